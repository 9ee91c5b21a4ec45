import DiscoCore
@testable import DiscoRaft
import Foundation
import RaftCore
import Testing

// MARK: - A hard state behind the log

/// A node stores a term before any entry or snapshot of that term.
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
}
