import DiscoCore
import DiscoNet
import DiscoRaft
import DiscoSWIM
import DiscoSystem
import DiscoTestKit
import Synchronization
import Testing
@testable import NodeRuntime

// MARK: - Helpers

/// Where the transports of one test listen.
private final class Addresses: Sendable {
    private let table = Mutex<[NodeID: PeerAddress]>([:])
    func set(_ id: NodeID, _ address: PeerAddress) { table.withLock { $0[id] = address } }
    var book: RaftAddressBook { { [self] id in table.withLock { $0[id] } } }
}

/// What a transport delivered.
private final class Delivered: Sendable {
    private let messages = Mutex<[Message]>([])
    func add(_ message: Message) { messages.withLock { $0.append(message) } }
    var all: [Message] { messages.withLock { $0 } }
}

private let keyA = GossipKey(bytes: [UInt8](repeating: 0xA1, count: 32))!
private let keyB = GossipKey(bytes: [UInt8](repeating: 0xB2, count: 32))!

private func sealing(_ primary: GossipKey, accepted: [GossipKey] = [], label: String = "disco",
                     verifyIncoming: Bool = true, verifyOutgoing: Bool = true) -> SealedRaftFrames {
    SealedRaftFrames(SWIM.GossipEncryption(keyring: GossipKeyring(primary: primary, accepted: accepted), label: label,
                                           verifyIncoming: verifyIncoming, verifyOutgoing: verifyOutgoing),
                     logger: Logger(label: "raft", level: .info, handler: LogfmtHandler(sink: MemoryLogSink())))
}

private func start(_ id: NodeID, _ addresses: Addresses, _ protection: SealedRaftFrames?,
                   logs: MemoryLogSink = MemoryLogSink()) async throws -> (RaftTransport, Delivered) {
    var options = RaftTransportOptions()
    options.protection = protection
    options.maxBackoff = .milliseconds(100)
    options.chunkSize = 4096
    let delivered = Delivered()
    let transport = try await RaftTransport.start(localID: id, addressBook: addresses.book, options: options,
                                                  logger: Logger(label: "raft", level: .info, handler: LogfmtHandler(sink: logs))) {
        delivered.add($0)
    }
    addresses.set(id, transport.listenAddress)
    return (transport, delivered)
}

private func vote(_ from: NodeID, _ to: NodeID, term: UInt64) -> Message {
    Message(from: from, to: to, term: term, body: .heartbeat(commit: 0, context: term))
}

// MARK: - Raft frames sealed with the gossip keyring

/// Only holders of the gossip key can speak Raft to a node that has one: real transports on
/// loopback, sealing and opening with ``SealedRaftFrames``.
@Suite(.serialized) struct SealedRaftFramesTests {
    @Test func nodesWithTheSameKeyExchangeMessagesAndChunkedSnapshots() async throws {
        let addresses = Addresses()
        let (a, _) = try await start("a", addresses, sealing(keyA))
        let logsB = MemoryLogSink()
        let (b, atB) = try await start("b", addresses, sealing(keyA), logs: logsB)
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: 9, term: 2, config: ClusterConfig(voters: ["a", "b"])),
                                data: (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let big = Message(from: "a", to: "b", term: 2, body: .installSnapshot(snapshot))
        a.send(vote("a", "b", term: 1))
        a.send(big)
        a.send(vote("a", "b", term: 3))
        try await waitUntil("three messages at b") { atB.all.count == 3 }
        #expect(atB.all == [vote("a", "b", term: 1), big, vote("a", "b", term: 3)])
        #expect(b.metrics.badFrames == 0, "\(logsB.lines)")
        await a.close()
        await b.close()
    }

    @Test func aNodeWithoutTheKeyOrWithAnotherKeyCannotSpeakRaft() async throws {
        let addresses = Addresses()
        let logs = MemoryLogSink()
        let (target, delivered) = try await start("t", addresses, sealing(keyA), logs: logs)
        let (plain, _) = try await start("p", addresses, nil)
        let (other, _) = try await start("o", addresses, sealing(keyB))
        let (otherCluster, _) = try await start("c", addresses, sealing(keyA, label: "another-cluster"))
        plain.send(vote("p", "t", term: 100))
        other.send(vote("o", "t", term: 200))
        otherCluster.send(vote("c", "t", term: 300))
        // All three come from 127.0.0.1: the first refusal is logged, the others are counted
        // (one line per peer host, reason and 10 s; see refusalsFromOneHostAreLoggedOncePerInterval).
        try await waitUntil("each sender's connection refused") { target.metrics.badFrames >= 3 }
        #expect(logs.lines.contains { $0.contains("closing internode connection from 127.0.0.1:") }, "\(logs.lines)")
        #expect(delivered.all.isEmpty, "delivered \(delivered.all)")
        #expect(target.metrics.messagesReceived == 0)

        // A node without a key refuses sealed frames instead of misreading them.
        let plainLogs = MemoryLogSink()
        let (keyless, atKeyless) = try await start("k", addresses, nil, logs: plainLogs)
        target.send(vote("t", "k", term: 5))
        try await waitUntil("the keyless node to refuse the sealed frame") {
            plainLogs.lines.contains { $0.contains("sealed with a key, but this node runs without one") }
        }
        #expect(atKeyless.all.isEmpty)
        for transport in [target, plain, other, otherCluster, keyless] { await transport.close() }
    }

    @Test func refusalsFromOneHostAreLoggedOncePerInterval() async throws {
        let addresses = Addresses()
        let logs = MemoryLogSink()
        let (target, delivered) = try await start("t", addresses, sealing(keyA), logs: logs)
        let (other, _) = try await start("o", addresses, sealing(keyB))
        // A peer with another key reconnects after every refusal (backoff up to 100 ms here).
        for term in 1...20 { other.send(vote("o", "t", term: UInt64(term))) }
        try await waitUntil("five refusals") {
            if target.metrics.badFrames < 5 { other.send(vote("o", "t", term: 99)) }
            return target.metrics.badFrames >= 5
        }
        let lines = logs.lines.filter { $0.contains("closing internode connection") }
        // One line per 10 s: this loop takes well under that, but a line more on a slow machine
        // still shows the throttle (without it there is a line per refusal).
        #expect(!lines.isEmpty && lines.count < 3, "\(lines.count) lines for \(target.metrics.badFrames) refusals")
        #expect(delivered.all.isEmpty)
        for transport in [target, other] { await transport.close() }
    }

    @Test func rotationAndMigrationKeepRaftFlowing() async throws {
        let addresses = Addresses()
        // Migration: b accepts plain frames while a still sends them.
        let (a, _) = try await start("a", addresses, sealing(keyA, verifyOutgoing: false))
        let bSealing = sealing(keyA, verifyIncoming: false)
        let (b, atB) = try await start("b", addresses, bSealing)
        a.send(vote("a", "b", term: 1))
        try await waitUntil("the plain frame accepted while migrating") { atB.all.count == 1 }

        // Rotation: b moves to key B with key A still accepted, then a sealing sender with key B
        // is heard; a sender still on key A is heard too until A leaves b's ring.
        bSealing.install(GossipKeyring(primary: keyB, accepted: [keyA]))
        let (c, _) = try await start("c", addresses, sealing(keyB))
        let (d, _) = try await start("d", addresses, sealing(keyA))
        c.send(vote("c", "b", term: 2))
        d.send(vote("d", "b", term: 3))
        try await waitUntil("both keys opened during the rotation") { atB.all.count == 3 }
        bSealing.install(GossipKeyring(primary: keyB))
        let (e, _) = try await start("e", addresses, sealing(keyA))
        e.send(vote("e", "b", term: 4))
        c.send(vote("c", "b", term: 5))
        try await waitUntil("key B still heard after A left the ring") { atB.all.count == 4 }
        #expect(atB.all.last == vote("c", "b", term: 5))
        try await waitUntil("key A refused once it left the ring") { b.metrics.badFrames >= 1 }
        #expect(!atB.all.contains(vote("e", "b", term: 4)))
        for transport in [a, b, c, d, e] { await transport.close() }
    }
}
