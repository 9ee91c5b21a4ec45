// Durable proposals per second through three RaftNodeShells in one process: loopback TCP
// between them, each with its own WAL (fsync per Ready, group commit) in a temporary directory.
//
//     disco-bench-raft-shell [--proposals N] [--dir D]
//
// Runs with 1 proposer (N/10 proposals) and with 64 concurrent proposers (N proposals) and
// prints one line per run.
import DiscoCore
import DiscoSystem
import DiscoRaft
import Foundation
import Synchronization

// MARK: - Pieces

/// Counts applied entries; the snapshot is the count.
final class CountingStateMachine: RaftStateMachine {
    private let applied = Atomic<Int>(0)
    func apply(_ entry: Entry) { applied.add(1, ordering: .relaxed) }
    func takeSnapshot() -> [UInt8] { withUnsafeBytes(of: applied.load(ordering: .relaxed).bigEndian, Array.init) }
    func restore(from snapshot: [UInt8]) throws {
        applied.store(snapshot.reduce(0) { $0 << 8 | Int($1) }, ordering: .relaxed)
    }
}

final class AddressBook: Sendable {
    private let addresses = Mutex<[NodeID: PeerAddress]>([:])
    func set(_ id: NodeID, _ address: PeerAddress) { addresses.withLock { $0[id] = address } }
    func lookup(_ id: NodeID) -> PeerAddress? { addresses.withLock { $0[id] } }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

// MARK: - Arguments

var proposals = 20_000
var directory = FileManager.default.temporaryDirectory.path
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    switch flag {
    case "--proposals":
        guard let value = arguments.next().flatMap(Int.init), value > 0 else {
            FileHandle.standardError.write(Data("--proposals needs a positive integer\n".utf8))
            exit(2)
        }
        proposals = value
    case "--dir":
        guard let value = arguments.next() else {
            FileHandle.standardError.write(Data("--dir needs a directory\n".utf8))
            exit(2)
        }
        directory = value
    default:
        FileHandle.standardError.write(Data("unknown flag \(flag); expected --proposals N or --dir D\n".utf8))
        exit(2)
    }
}

// MARK: - Run

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func run(proposers: Int, count: Int, root: String) async throws -> Double {
    let ids: [NodeID] = ["b1", "b2", "b3"]
    let book = AddressBook()
    var shells: [RaftNodeShell] = []
    let logger = Logger(label: "raft-bench", level: .error, handler: LogfmtHandler())
    for id in ids {
        var configuration = RaftShellConfiguration(id: id, dataDirectory: "\(root)/\(proposers)/\(id.rawValue)",
                                                   addressBook: { book.lookup($0) }, logger: logger)
        configuration.bootstrapVoters = ids
        configuration.raft.snapshotThreshold = 0
        let shell = try await RaftNodeShell.start(configuration, stateMachine: CountingStateMachine())
        book.set(id, shell.listenAddress)
        shells.append(shell)
    }
    shells[0].campaign()
    let clock = ContinuousClock()
    let electionDeadline = clock.now + .seconds(30)
    var leader: RaftNodeShell?
    while leader == nil {
        guard clock.now < electionDeadline else { throw BenchError(description: "no leader within 30 s") }
        try await Task.sleep(for: .milliseconds(10))
        leader = shells.first { $0.status.isLeader }
    }
    guard let leader else { throw BenchError(description: "no leader") }
    let payload = [UInt8](repeating: 0x5A, count: 128)
    _ = try await leader.propose(payload)  // the leader's first entry is committed
    let start = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<proposers {
            group.addTask {
                for _ in stride(from: worker, to: count, by: proposers) { _ = try await leader.propose(payload) }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = seconds(clock.now - start)
    for shell in shells { await shell.shutdown(transferLeadership: false) }
    return Double(count) / elapsed
}

let root = "\(directory)/disco-raft-shell-bench-\(getpid())"
do {
    let single = try await run(proposers: 1, count: max(1, proposals / 10), root: root)
    print("raft-shell durable, 1 proposer: \(Int(single)) proposals/s (\(String(format: "%.2f", 1000 / single)) ms each; 3 shells, loopback TCP, WAL fsync in \(directory))")
    let many = try await run(proposers: 64, count: proposals, root: root)
    print("raft-shell durable, 64 proposers: \(Int(many)) proposals/s (\(proposals) proposals; 3 shells, loopback TCP, WAL fsync, group commit)")
    try? FileManager.default.removeItem(atPath: root)
} catch {
    try? FileManager.default.removeItem(atPath: root)
    FileHandle.standardError.write(Data("disco-bench-raft-shell: \(error)\n".utf8))
    exit(1)
}
