import DiscoCore
@testable import DiscoRaft
import Foundation
import Testing

// MARK: - CRC32C

@Suite("CRC32C")
struct CRC32CTests {
    @Test("standard check values")
    func vectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test("incremental checksums equal one-shot checksums at every split")
    func incremental() {
        let bytes = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            #expect(CRC32C.checksum(bytes[split...], continuing: CRC32C.checksum(bytes[..<split])) == whole)
        }
    }
}

// MARK: - Durable storage

/// A fresh directory under the system temporary directory, removed by `cleanUp()`.
struct TemporaryDirectory {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("disco-raft-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("Durable Raft storage")
struct DurableStorageTests {
    func entries(_ range: ClosedRange<UInt64>, term: UInt64 = 1, size: Int = 10) -> [Entry] {
        range.map { Entry(term: term, index: $0, data: [UInt8](repeating: UInt8(truncatingIfNeeded: $0), count: size)) }
    }

    func segmentFiles(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/wal")) ?? []).filter { $0.hasSuffix(".wal") }.sorted()
    }

    @Test("entries, hard state and commit survive a reopen")
    func roundTrip() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.append(entries(1...10))
            try storage.setHardState(HardState(term: 3, vote: "n2", commit: 4))
            try storage.setHardState(HardState(term: 3, vote: "n2", commit: 7))  // commit only: a WAL record
            try storage.sync()
            #expect(storage.syncCount == 1)  // group commit: one fsync for all of it
        }
        let reopened = try DurableRaftStorage(directory: directory.path)
        let (state, snapshot) = try reopened.load()
        #expect(state.entries == entries(1...10))
        #expect(state.hardState == HardState(term: 3, vote: "n2", commit: 7))
        #expect(snapshot == nil)
        #expect(reopened.repairedTail == nil)
    }

    @Test("a later entry replaces the stored suffix from its index")
    func suffixTruncation() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.setHardState(HardState(term: 1))  // as the shell does: a term before its entries
            try storage.appendAndSync(entries(1...10, term: 1))
            try storage.setHardState(HardState(term: 2))
            try storage.appendAndSync(entries(6...7, term: 2))
        }
        let (state, _) = try DurableRaftStorage(directory: directory.path).load()
        #expect(state.entries == entries(1...5, term: 1) + entries(6...7, term: 2))
    }

    @Test("a torn tail is truncated on recovery")
    func tornTail() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.setHardState(HardState(term: 1))
            try storage.appendAndSync(entries(1...5))
        }
        guard let file = segmentFiles(directory.path).last else { Issue.record("no segment"); return }
        let path = directory.path + "/wal/" + file
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data([0, 0, 0, 40, 1, 2, 3]))  // a record header and a few bytes of payload
        handle.closeFile()
        let reopened = try DurableRaftStorage(directory: directory.path)
        #expect(try reopened.load().state.entries == entries(1...5))
        #expect(reopened.repairedTail?.contains(file) == true)
        // The repair is durable and appending continues cleanly.
        try reopened.append(entries(6...6))
        try reopened.sync()
        #expect(try DurableRaftStorage(directory: directory.path).load().state.entries == entries(1...6))
    }

    @Test("corruption in the middle is refused with the file and offset")
    func middleCorruption() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.setHardState(HardState(term: 1))
            try storage.appendAndSync(entries(1...3))
            try storage.appendAndSync(entries(4...5))  // a later batch proves the first one was synced
        }
        guard let file = segmentFiles(directory.path).last else { Issue.record("no segment"); return }
        let path = directory.path + "/wal/" + file
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let recordSize = WALFormat.frame(.entry(entries(1...1)[0]), batchStart: true).count
        let offset = WALFormat.headerSize + recordSize + 12  // inside the second record's payload
        bytes[offset] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        do {
            _ = try DurableRaftStorage(directory: directory.path)
            Issue.record("corruption was not detected")
        } catch {
            #expect(error.code == .corruptStorage)
            #expect(error.message.contains(file))
            #expect(error.message.contains("offset \(WALFormat.headerSize + recordSize)"))
            #expect(error.message.contains("checksum"))
        }
    }

    @Test("a record of the last batch damaged after it was synced is refused, not dropped with what follows it")
    func damagedLastBatchIsRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.setHardState(HardState(term: 1))
            try storage.appendAndSync(entries(1...3))
            try storage.appendAndSync(entries(4...8))  // synced: the shell may have acknowledged 4...8
        }
        guard let file = segmentFiles(directory.path).last else { Issue.record("no segment"); return }
        let path = directory.path + "/wal/" + file
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let recordSize = WALFormat.frame(.entry(entries(1...1)[0])).count
        let offset = WALFormat.headerSize + 4 * recordSize
        bytes[offset + 12] ^= 0xFF  // the fifth record, in the second batch, present in full
        try bytes.write(to: URL(fileURLWithPath: path))
        do {
            let reopened = try DurableRaftStorage(directory: directory.path)
            Issue.record("a damaged record was dropped: \(reopened.repairedTail ?? "")")
        } catch {
            #expect(error.code == .corruptStorage)
            #expect(error.message.contains("\(path) at offset \(offset): checksum mismatch"), "\(error.message)")
            #expect(error.message.contains("truncate -s \(offset) \(path)"), "\(error.message)")
        }
        // The file is left as it was: nothing was truncated.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }

    @Test("a last batch with a sector of zeros is a torn write: its tail from the first torn record is dropped")
    func tornLastBatch() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let written = entries(1...12, size: 200)
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.setHardState(HardState(term: 1))
            try storage.appendAndSync(Array(written[0..<3]))
            try storage.appendAndSync(Array(written[3...]))
        }
        guard let file = segmentFiles(directory.path).last else { Issue.record("no segment"); return }
        let path = directory.path + "/wal/" + file
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let recordSize = WALFormat.frame(.entry(written[0])).count
        // A sector the disk never wrote, inside the second batch, reads as zeros.
        let sector = 2 * WALFormat.sectorSize
        let torn = (sector - WALFormat.headerSize) / recordSize  // the record it falls in
        #expect(torn >= 3 && torn < 11)
        bytes.replaceSubrange(sector..<sector + WALFormat.sectorSize, with: [UInt8](repeating: 0, count: WALFormat.sectorSize))
        try bytes.write(to: URL(fileURLWithPath: path))
        let reopened = try DurableRaftStorage(directory: directory.path)
        #expect(try reopened.load().state.entries == Array(written.prefix(torn)))
        #expect(reopened.repairedTail?.contains("offset \(WALFormat.headerSize + torn * recordSize)") == true)
    }

    @Test("segments roll over at the size limit, and compaction removes whole old segments")
    func rolloverAndCompaction() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let storage = try DurableRaftStorage(directory: directory.path, segmentSize: 4096)
        try storage.setHardState(HardState(term: 1))
        for batch in 0..<20 {
            let first = UInt64(batch * 10 + 1)
            try storage.appendAndSync(entries(first...(first + 9), size: 100))
        }
        #expect(storage.segmentCount > 3)
        let before = storage.segmentCount
        let config = ClusterConfig(voters: ["n1"])
        try storage.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 150, term: 1, config: config), data: [1]))
        #expect(storage.segmentCount < before)
        let (state, snapshot) = try DurableRaftStorage(directory: directory.path, segmentSize: 4096).load()
        #expect(snapshot?.metadata.index == 150)
        #expect(state.entries.first?.index == 151)
        #expect(state.entries.last?.index == 200)
    }

    @Test("compaction does not resurrect entries that a later write had replaced")
    func compactionKeepsTruncation() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.setHardState(HardState(term: 2))
            try storage.appendAndSync(entries(1...30, term: 2))
            try storage.setHardState(HardState(term: 3))
            try storage.appendAndSync(entries(21...28, term: 3))  // replaces 21...30
            let config = ClusterConfig(voters: ["n1"])
            try storage.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 28, term: 3, config: config), data: [1]))
        }
        let (state, snapshot) = try DurableRaftStorage(directory: directory.path).load()
        #expect(snapshot?.metadata.index == 28)
        #expect(state.entries.isEmpty)  // not the stale 29@2 and 30@2
        var memory = InMemoryRaftStorage()
        try memory.append(entries(1...30, term: 2))
        try memory.append(entries(21...28, term: 3))
        try memory.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 28, term: 3, config: ClusterConfig(voters: ["n1"])), data: [1]))
        #expect(try memory.load().state.entries.isEmpty)
    }

    @Test("an installed snapshot discards the old log, even entries after its index")
    func installDiscardsLog() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.setHardState(HardState(term: 1))
            try storage.appendAndSync(entries(1...30, term: 1))
            let config = ClusterConfig(voters: ["n1"])
            try storage.installSnapshot(Snapshot(metadata: SnapshotMetadata(index: 20, term: 5, config: config), data: [9]))
        }
        let (state, snapshot) = try DurableRaftStorage(directory: directory.path).load()
        #expect(snapshot?.metadata.index == 20)
        #expect(state.entries.isEmpty)
    }

    @Test("the stored snapshot reads back as last saved or installed, with its metadata, also after a reopen")
    func storedSnapshotReadsBack() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let config = ClusterConfig(voters: ["n1", "n2"])
        let saved = Snapshot(metadata: SnapshotMetadata(index: 10, term: 1, config: config), data: Array(repeating: 7, count: 5000))
        let installed = Snapshot(metadata: SnapshotMetadata(index: 40, term: 3, config: config), data: [1, 2, 3])
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            #expect(try storage.storedSnapshot() == nil)
            try storage.setHardState(HardState(term: 1))
            try storage.appendAndSync(entries(1...20, term: 1))
            try storage.saveSnapshot(saved)
            #expect(try storage.storedSnapshot() == saved)
            try storage.installSnapshot(installed)
            #expect(try storage.storedSnapshot() == installed)
        }
        #expect(try DurableRaftStorage(directory: directory.path).storedSnapshot() == installed)
        var memory = InMemoryRaftStorage()
        #expect(try memory.storedSnapshot() == nil)
        try memory.saveSnapshot(saved)
        #expect(try memory.storedSnapshot() == saved)
    }

    @Test("recovery after a crash at any byte keeps a prefix of what was written")
    func crashAtRandomPoints() throws {
        var random = DeterministicRandom(seed: 5)
        for _ in 0..<25 {
            let directory = TemporaryDirectory()
            defer { directory.cleanUp() }
            let written = entries(1...40, size: Int.random(in: 1...60, using: &random))
            do {
                let storage = try DurableRaftStorage(directory: directory.path)
                try storage.setHardState(HardState(term: 1))
                for chunk in stride(from: 0, to: 40, by: 8) {
                    try storage.appendAndSync(Array(written[chunk..<(chunk + 8)]))
                }
            }
            guard let file = segmentFiles(directory.path).last else { Issue.record("no segment"); return }
            let path = directory.path + "/wal/" + file
            let size = try Data(contentsOf: URL(fileURLWithPath: path)).count
            let cut = Int.random(in: 0...size, using: &random)
            try FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: UInt64(cut))
            let recovered = try DurableRaftStorage(directory: directory.path).load().state.entries
            #expect(recovered == Array(written.prefix(recovered.count)))
        }
    }

    /// A follower's Ready can carry a new term, entries that replace an uncommitted suffix of an
    /// older term, and a commit index over them. Term and vote are written at once, the entries
    /// at the sync: a crash between the two must not leave a commit index that covers the
    /// replaced entries still on disk (a restarted node would apply entries never committed).
    @Test("a term change does not make a commit index durable before the entries it covers")
    func commitIsNotDurableBeforeItsEntries() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.setHardState(HardState(term: 1))
            try storage.appendAndSync(entries(1...4, term: 1))  // 3 and 4 were never committed
            try storage.setHardState(HardState(term: 1, vote: "n1", commit: 2))
            try storage.sync()
            var ready = Ready()
            ready.entries = entries(3...6, term: 2)
            ready.hardState = HardState(term: 2, vote: nil, commit: 6)
            try storage.append(ready.entries)
            try storage.setHardState(try #require(ready.hardState))
            // The process dies here, before the sync that would make the entries durable.
        }
        let (state, _) = try DurableRaftStorage(directory: directory.path).load()
        #expect(state.hardState.term == 2)  // the new term is durable at once
        #expect(state.entries == entries(1...4, term: 1))
        #expect(state.hardState.commit <= 2, "commit \(state.hardState.commit) covers entries of term 1 that were never committed")
        let node = try RaftNode(id: "n1", state: state, random: DeterministicRandom(seed: 1))
        #expect(node.commitIndex <= 2)
    }

    @Test("a corrupt hard state file is refused with its name")
    func corruptHardState() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.setHardState(HardState(term: 2, vote: "n1", commit: 0))
        }
        let path = directory.path + "/hardstate"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 1] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: RaftError.self) { try DurableRaftStorage(directory: directory.path) }
    }

    @Test("a node restarted from durable storage resumes with its log and term")
    func coreOnDurableStorage() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        do {
            var storage = try DurableRaftStorage(directory: directory.path)
            try storage.initialize(with: .bootstrap(voters: ["n1"]))
            var node = try RaftNode(id: "n1", state: try storage.load().state, random: DeterministicRandom(seed: 1))
            node.campaign()
            for value in 0..<5 { try node.propose([UInt8(value)]) }
            while node.hasReady {
                let ready = node.ready()
                try storage.persist(ready)
                node.advance(ready)
            }
            #expect(node.commitIndex == 7)
        }
        var storage = try DurableRaftStorage(directory: directory.path)
        var node = try RaftNode(id: "n1", state: try storage.load().state, random: DeterministicRandom(seed: 2))
        #expect(node.lastIndex == 7)
        #expect(node.term == 2)
        #expect(node.commitIndex <= 7)  // a commit-only change is not fsynced; it is learned again
        node.campaign()
        var applied: [Entry] = []
        while node.hasReady {
            let ready = node.ready()
            try storage.persist(ready)
            applied += ready.committedEntries
            node.advance(ready)
        }
        #expect(node.commitIndex == 8)
        #expect(applied.last?.index == 8)
    }
}

extension DurableRaftStorage {
    /// Appends and makes the entries durable, as the shell does before acknowledging them.
    func appendAndSync(_ entries: [Entry]) throws {
        try append(entries)
        try sync()
    }
}
