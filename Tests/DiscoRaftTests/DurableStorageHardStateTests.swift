import DiscoCore
@testable import DiscoRaft
import Foundation
import RaftCore
import Testing

// MARK: - A hard state behind the log

/// A node stores a term before any entry or snapshot of that term: a `hardstate` file that is
/// missing, or holds a lower term than the log or the snapshot, was deleted or replaced by an
/// older copy, and is refused at start (the node could otherwise vote twice in one term).
@Suite("Durable Raft storage: hard state behind the log")
struct DurableStorageHardStateTests {
    private let config = ClusterConfig(voters: ["n1"])

    private func entries(_ range: ClosedRange<UInt64>, term: UInt64) -> [Entry] {
        range.map { Entry(term: term, index: $0, data: [UInt8(truncatingIfNeeded: $0)]) }
    }

    /// Entries 1–5 of term 1, then 6–8 of term 3, each term stored before its entries; returns
    /// the `hardstate` file as it was in term 1.
    @discardableResult
    private func twoTerms(_ directory: TemporaryDirectory) throws -> Data {
        let storage = try DurableRaftStorage(directory: directory.path)
        try storage.setHardState(HardState(term: 1, vote: "n1"))
        let termOne = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/hardstate"))
        try storage.append(entries(1...5, term: 1))
        try storage.setHardState(HardState(term: 1, vote: "n1", commit: 5))
        try storage.sync()
        try storage.setHardState(HardState(term: 3, vote: "n1", commit: 5))
        try storage.append(entries(6...8, term: 3))
        try storage.sync()
        return termOne
    }

    @Test("a deleted hardstate file is refused when the log holds entries")
    func missingHardStateRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        try twoTerms(directory)
        let path = directory.path + "/hardstate"
        try FileManager.default.removeItem(atPath: path)
        let error = #expect(throws: RaftError.self) { try DurableRaftStorage(directory: directory.path) }
        #expect(error?.code == .corruptStorage)
        let message = error?.message ?? ""
        #expect(message.contains("\(path) is missing, but the log in \(directory.path)/wal holds entries of term 3"), "\(message)")
        #expect(message.contains("restore it from a backup"), "\(message)")
        #expect(message.contains("join the cluster again as a new member"), "\(message)")
    }

    @Test("a hardstate file of a lower term than the log's is refused")
    func olderHardStateRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let termOne = try twoTerms(directory)
        let path = directory.path + "/hardstate"
        try termOne.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: RaftError.self) { try DurableRaftStorage(directory: directory.path) }
        #expect(error?.code == .corruptStorage)
        #expect(error?.message.contains("\(path) holds term 1, but the log in \(directory.path)/wal holds entries of term 3") == true,
                "\(error?.message ?? "")")
    }

    @Test("a hardstate file of a lower term than the snapshot's is refused")
    func hardStateBehindSnapshotRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let termOne = try twoTerms(directory)
        let storage = try DurableRaftStorage(directory: directory.path)
        try storage.setHardState(HardState(term: 3, vote: "n1", commit: 8))
        try storage.sync()
        try storage.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 8, term: 3, config: config), data: [1, 2, 3]))
        let path = directory.path + "/hardstate"
        try termOne.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: RaftError.self) { try DurableRaftStorage(directory: directory.path) }
        #expect(error?.code == .corruptStorage)
        #expect(error?.message.contains("\(path) holds term 1, but the snapshot \(directory.path)/snapshot is of term 3") == true,
                "\(error?.message ?? "")")
        let load = #expect(throws: RaftError.self) { try storage.load() }
        #expect(load?.code == .corruptStorage)
    }

    @Test("an empty directory and one with only a hardstate file open")
    func newNodeOpens() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        #expect(try DurableRaftStorage(directory: directory.path).load().state.isEmpty)
        try DurableRaftStorage(directory: directory.path).setHardState(HardState(term: 4, vote: "n2"))
        #expect(try DurableRaftStorage(directory: directory.path).load().state.hardState == HardState(term: 4, vote: "n2"))
    }

    @Test("a snapshot from a leader of a newer term stores that term before the snapshot file")
    func installedSnapshotStoresItsTermFirst() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        try twoTerms(directory)
        let storage = try DurableRaftStorage(directory: directory.path)
        // The core's Ready carries the leader's term 6 and its snapshot of term 5; persisting it
        // installs the snapshot first. A crash before the hard state is written leaves this:
        try storage.installSnapshot(Snapshot(metadata: SnapshotMetadata(index: 20, term: 5, config: config), data: [4, 5]))
        let recovered = try DurableRaftStorage(directory: directory.path).load().state
        #expect(recovered.hardState.term == 5)
        #expect(recovered.hardState.vote == nil)
        #expect(recovered.snapshot?.index == 20)
        #expect(recovered.entries.isEmpty)
        try storage.setHardState(HardState(term: 6, commit: 20))
        try storage.sync()
        #expect(try DurableRaftStorage(directory: directory.path).load().state.hardState == HardState(term: 6, commit: 20))
    }

    @Test("a single-node run persisted Ready by Ready reopens, also after a snapshot")
    func normalRunReopens() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        var storage = try DurableRaftStorage(directory: directory.path)
        let state = PersistentState.bootstrap(voters: ["n1"])
        try storage.initialize(with: state)
        var node = try RaftNode(id: "n1", state: try DurableRaftStorage(directory: directory.path).load().state,
                                random: DeterministicRandom(seed: 7))
        func drain() throws {
            while node.hasReady {
                let ready = node.ready()
                try storage.persist(ready)
                node.advance(ready)
            }
        }
        node.campaign()
        try drain()
        #expect(node.role == .leader)
        for value in 0..<5 { _ = try node.propose([UInt8(value)]) }
        try drain()
        let leaderTerm = node.term
        let before = try DurableRaftStorage(directory: directory.path).load().state
        #expect(before.hardState.term == leaderTerm)
        #expect(before.entries.last?.term == leaderTerm)
        let metadata = try node.compact(through: node.appliedIndex)
        try storage.saveSnapshot(metadata, data: SnapshotSource([9]))
        _ = try node.propose([42])
        try drain()
        let after = try DurableRaftStorage(directory: directory.path).load()
        #expect(after.state.snapshot?.term == leaderTerm)
        #expect(after.state.entries.map(\.data).last == [42])
    }
}
