import DiscoCore
import DiscoSystem
import DiscoNet
@testable import DiscoRaft
import DiscoTestKit
import Foundation
import Synchronization

// MARK: - A state machine that records what it applied

/// Keeps every applied payload in order; its snapshot is that whole list.
final class RecordingStateMachine: RaftStateMachine {
    private struct State {
        var payloads: [[UInt8]] = []
        /// Where each payload applied since the process started (a snapshot does not carry it).
        var indexes: [[UInt8]: UInt64] = [:]
        var restores = 0
    }

    private let state = Mutex(State())
    private let gate = DispatchSemaphore(value: 0)
    private let gateReached = Mutex(false)

    /// Applying an entry whose payload is "gate" blocks the node until ``openGate()``.
    func apply(_ entry: Entry) {
        if entry.data == Array("gate".utf8) {
            gateReached.withLock { $0 = true }
            gate.wait()
        }
        state.withLock {
            $0.payloads.append(entry.data)
            $0.indexes[entry.data] = entry.index
        }
    }

    /// The index at which `text` was applied, if this process applied it.
    func index(of text: String) -> UInt64? { state.withLock { $0.indexes[Array(text.utf8)] } }

    var isBlockedAtGate: Bool { gateReached.withLock { $0 } }
    func openGate() { gate.signal() }

    func takeSnapshot() -> [UInt8] {
        let payloads = state.withLock { $0.payloads }
        var bytes: [UInt8] = []
        for payload in payloads {
            let count = UInt32(payload.count)
            bytes += [UInt8(count >> 24), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)]
            bytes += payload
        }
        return bytes
    }

    func restore(from snapshot: [UInt8]) throws {
        var payloads: [[UInt8]] = []
        var offset = 0
        while offset < snapshot.count {
            guard offset + 4 <= snapshot.count else { throw RaftError(.corruptStorage, "truncated snapshot") }
            let count = snapshot[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            guard offset + count <= snapshot.count else { throw RaftError(.corruptStorage, "truncated snapshot") }
            payloads.append(Array(snapshot[offset..<offset + count]))
            offset += count
        }
        state.withLock {
            $0.payloads = payloads
            $0.restores += 1
        }
    }

    var payloads: [[UInt8]] { state.withLock { $0.payloads } }
    var texts: [String] { payloads.map { String(decoding: $0, as: UTF8.self) } }
    var restores: Int { state.withLock { $0.restores } }
}

// MARK: - Address book

/// A mutable address book shared by the nodes of a test.
final class TestAddressBook: Sendable {
    private let addresses = Mutex<[NodeID: PeerAddress]>([:])

    func set(_ id: NodeID, _ address: PeerAddress?) { addresses.withLock { $0[id] = address } }
    func lookup(_ id: NodeID) -> PeerAddress? { addresses.withLock { $0[id] } }
    var book: RaftAddressBook { { [self] id in lookup(id) } }
}

// MARK: - A cluster of shells

/// Shells in one process over loopback TCP, each with its own WAL in a temporary directory.
final class ShellCluster: Sendable {
    struct Member: Sendable {
        var shell: RaftNodeShell
        var stateMachine: RecordingStateMachine
    }

    let directory = TemporaryDirectory()
    let addresses = TestAddressBook()
    let logs = MemoryLogSink()
    let voters: [NodeID]
    let raft: RaftOptions
    let transport: RaftTransportOptions
    private let members = Mutex<[NodeID: Member]>([:])

    init(voters: [NodeID], raft: RaftOptions = RaftOptions(), transport: RaftTransportOptions = RaftTransportOptions()) {
        self.voters = voters
        self.raft = raft
        self.transport = transport
    }

    /// Starts every founding voter.
    static func start(_ voters: [NodeID], raft: RaftOptions = RaftOptions(),
                      transport: RaftTransportOptions = RaftTransportOptions()) async throws -> ShellCluster {
        let cluster = ShellCluster(voters: voters, raft: raft, transport: transport)
        for id in voters { try await cluster.start(id) }
        return cluster
    }

    /// Starts (or restarts, from its data directory) `id` on a fresh OS-chosen port and publishes
    /// the new address. `bootstrap` false: a node waiting to be added. `waitForLock` false: a
    /// data directory in use fails at once (for tests of that error).
    @discardableResult
    func start(_ id: NodeID, bootstrap: Bool = true, waitForLock: Bool = true) async throws -> RaftNodeShell {
        var configuration = RaftShellConfiguration(
            id: id, dataDirectory: directory.path + "/" + id.rawValue, addressBook: addresses.book,
            logger: Logger(label: "raft-\(id)", level: .info, handler: LogfmtHandler(sink: logs)))
        configuration.bootstrapVoters = bootstrap ? voters : []
        configuration.raft = raft
        configuration.transport = transport
        configuration.transport.maxBackoff = .milliseconds(200)
        let stateMachine = RecordingStateMachine()
        // A restart right after a stop can find the data directory's flock still held for a moment:
        // a process another test is spawning at that instant holds copies of every descriptor
        // until its exec closes them (O_CLOEXEC). Poll for the lock instead of failing on it.
        var shell: RaftNodeShell?
        try await waitUntil("the data directory of \(id) to be free", timeout: .seconds(30)) {
            do {
                shell = try await RaftNodeShell.start(configuration, stateMachine: stateMachine)
                return true
            } catch let error as RaftShellError where waitForLock && error.code == .storage && error.message.contains("another node (process ") {
                return false
            }
        }
        guard let shell else { throw RaftShellError(.storage, "node \(id) did not start") }
        addresses.set(id, shell.listenAddress)
        members.withLock { $0[id] = Member(shell: shell, stateMachine: stateMachine) }
        return shell
    }

    /// Shuts `id` down and forgets it (its data directory stays).
    func stop(_ id: NodeID, transferLeadership: Bool = false) async {
        guard let member = members.withLock({ $0.removeValue(forKey: id) }) else { return }
        await member.shell.shutdown(transferLeadership: transferLeadership)
    }

    func shutdownAll() async {
        for id in running { await stop(id) }
        directory.cleanUp()
    }

    var running: [NodeID] { members.withLock { $0.keys.sorted() } }
    func shell(_ id: NodeID) -> RaftNodeShell? { members.withLock { $0[id]?.shell } }
    func stateMachine(_ id: NodeID) -> RecordingStateMachine? { members.withLock { $0[id]?.stateMachine } }
    var shells: [RaftNodeShell] { members.withLock { $0.values.map(\.shell) } }

    /// The running node that leads, when exactly one does in the highest term.
    var leader: RaftNodeShell? {
        let leading = shells.filter { $0.status.isLeader }
        return leading.max { $0.status.term < $1.status.term }
    }

    /// Waits for a leader that has committed an entry of its term (so it can serve reads and
    /// membership changes).
    func waitForLeader(excluding excluded: NodeID? = nil) async throws -> RaftNodeShell {
        var found: RaftNodeShell?
        try await waitUntil("a leader among \(running)") {
            guard let leader, leader.id != excluded else { return false }
            found = leader
            return true
        }
        guard let found else { throw ShellTestError("no leader found") }
        _ = try await propose(through: found, "leader-check-\(found.id)-\(UInt64.random(in: 0...UInt64.max))")
        return found
    }

    /// Proposes through whichever node leads, retrying while leadership moves.
    @discardableResult
    func propose(_ text: String) async throws -> UInt64 {
        var index: UInt64?
        try await waitUntil("proposal \(text) to be accepted by a leader", timeout: .seconds(60), pollEvery: .milliseconds(10)) {
            guard let leader else { return false }
            do {
                index = try await leader.propose(Array(text.utf8))
                return true
            } catch let error as RaftShellError where [.notLeader, .transferInProgress, .dropped, .shutDown].contains(error.code) {
                return false
            } catch let error as RaftShellError where error.code == .leadershipLost {
                // A later leader decides: once one has committed an entry of its own term, the
                // entry is in every log or in none. Propose again only when it is in none.
                let next = try await waitForLeader()
                index = stateMachine(next.id)?.index(of: text)
                return index != nil
            }
        }
        guard let index else { throw ShellTestError("proposal \(text) was not accepted") }
        return index
    }

    private func propose(through shell: RaftNodeShell, _ text: String) async throws -> UInt64 {
        do {
            return try await shell.propose(Array(text.utf8))
        } catch {
            return try await propose(text)
        }
    }

    /// Proposes `count` payloads `prefix-k` with `concurrency` proposers; returns them.
    func proposeMany(_ count: Int, prefix: String, concurrency: Int = 16) async throws -> [String] {
        let texts = (0..<count).map { "\(prefix)-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    for position in stride(from: worker, to: count, by: concurrency) {
                        try await self.propose(texts[position])
                    }
                }
            }
            try await group.waitForAll()
        }
        return texts
    }

    /// Waits until every running node applied the same sequence as `reference`.
    func waitForIdenticalState(of ids: [NodeID]? = nil) async throws {
        let targets = ids ?? running
        try await waitUntil("identical applied sequences on \(targets)") {
            let sequences = targets.compactMap { stateMachine($0)?.payloads }
            let indexes = targets.compactMap { shell($0)?.status.appliedIndex }
            return sequences.count == targets.count && Set(indexes).count == 1 && sequences.allSatisfy { $0 == sequences[0] }
        }
    }
}

struct ShellTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Promotes `learner` as the node's reconciliation does: asks the current leader, and asks
/// again while the core refuses because the learner is not caught up yet (or leadership moved).
func promoteOnceCaughtUp(_ learner: NodeID, in cluster: ShellCluster) async throws {
    try await waitUntil("the leader to promote \(learner) once it is caught up") {
        guard let leader = cluster.leader else { return false }
        do {
            _ = try await leader.changeMembership(.promote(learner))
            return true
        } catch let error as RaftShellError where [.learnerNotCaughtUp, .notLeader, .configChangePending].contains(error.code) {
            return false
        }
    }
}
