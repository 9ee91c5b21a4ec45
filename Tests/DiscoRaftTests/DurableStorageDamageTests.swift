import DiscoCore
@testable import DiscoRaft
import Foundation
import RaftCore
import Testing

// MARK: - A damaged Raft directory

/// Files of the Raft directory that are missing or cut short are refused with an error that
/// names the file, says what is wrong with it and how to go on.
@Suite("Durable Raft storage: damaged files")
struct DurableStorageDamageTests {
    /// 200 entries of 100 bytes in segments of 4 KiB, compacted by a snapshot through 150 of
    /// `size` bytes: the log on disk starts after entry 1.
    private func compactedStorage(_ directory: TemporaryDirectory, size: Int) throws {
        let storage = try DurableRaftStorage(directory: directory.path, segmentSize: 4096)
        try storage.setHardState(HardState(term: 1))
        for batch in 0..<20 {
            let first = UInt64(batch * 10 + 1)
            try storage.append((first...(first + 9)).map { Entry(term: 1, index: $0, data: [UInt8](repeating: 7, count: 100)) })
            try storage.sync()
        }
        let metadata = SnapshotMetadata(index: 150, term: 1, config: ClusterConfig(voters: ["n1"]))
        try storage.saveSnapshot(Snapshot(metadata: metadata, data: [UInt8](repeating: 9, count: size)))
        #expect(try DurableRaftStorage(directory: directory.path).load().state.entries.first?.index == 151)
    }

    @Test("a snapshot file cut short is refused, saying so")
    func snapshotCutShort() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        try compactedStorage(directory, size: 10_000)
        let path = directory.path + "/snapshot"
        let size = try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        try FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: UInt64(size / 2))
        let error = #expect(throws: RaftError.self) { try DurableRaftStorage(directory: directory.path) }
        #expect(error?.code == .corruptStorage)
        #expect(error?.message.contains("\(path): \(size / 2) bytes, but its header records a snapshot through entry 150 of \(size) bytes") == true,
                "\(error?.message ?? "")")
        #expect(error?.message.contains("cut short") == true)
    }

    @Test("a missing snapshot file is named when the log on disk starts after it")
    func snapshotMissing() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        try compactedStorage(directory, size: 100)
        try FileManager.default.removeItem(atPath: directory.path + "/snapshot")
        let error = #expect(throws: RaftError.self) { try DurableRaftStorage(directory: directory.path) }
        #expect(error?.code == .corruptStorage)
        #expect(error?.message.contains("the log has a gap; there is no snapshot file \(directory.path)/snapshot") == true,
                "\(error?.message ?? "")")
    }
}
