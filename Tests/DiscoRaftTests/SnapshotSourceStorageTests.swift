import DiscoCore
@testable import DiscoRaft
import Foundation
import Testing

// MARK: - Snapshots written in parts

@Suite("Snapshots written in parts")
struct SnapshotSourceStorageTests {
    let metadata = SnapshotMetadata(index: 15, term: 2, config: ClusterConfig(voters: ["n1", "n2"]))
    let data = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }

    /// `data` in parts of `size` bytes, declared as `count` bytes (its size unless told).
    func source(_ data: [UInt8], parts size: Int, count: Int? = nil, after: @escaping (Int) throws -> Void = { _ in }) -> SnapshotSource {
        SnapshotSource(count: count ?? data.count) { write throws(RaftError) in
            for start in stride(from: 0, to: data.count, by: size) {
                try write(Array(data[start..<min(start + size, data.count)]))
                do { try after(min(start + size, data.count)) } catch { throw RaftError(.io, "\(error)") }
            }
        }
    }

    func entries(_ range: ClosedRange<UInt64>, term: UInt64) -> [Entry] {
        range.map { Entry(term: term, index: $0, data: [UInt8(truncatingIfNeeded: $0)]) }
    }

    func fileSize(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int
    }

    @Test("a snapshot written in parts goes to the file as they come, in the file's format with its checksum up front")
    func partsGoStraightToTheFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let storage = try DurableRaftStorage(directory: directory.path)
        try storage.setHardState(HardState(term: 2))
        try storage.appendAndSync(entries(1...20, term: 2))
        // Each part is in the temporary file as soon as it is written: nothing collects them.
        let temporary = directory.path + "/snapshot.tmp"
        var header = ByteWriter()
        RaftCodec.write(metadata, to: &header)
        let headerBytes = 4 + 8 + header.bytes.count + 4
        var sizesSeen: [Int] = []
        try storage.saveSnapshot(metadata, data: source(data, parts: 4096) { written in
            let size = fileSize(temporary)
            sizesSeen.append(size ?? -1)
            #expect(size == headerBytes + written, "after \(written) bytes of data")
        })
        #expect(sizesSeen.count == 13)
        #expect(!FileManager.default.fileExists(atPath: temporary))
        // [u32 CRC-32C of the rest][u64 first segment][metadata][u32 length][data], as before.
        var rest = ByteWriter()
        rest.u64(0)
        rest.bytes.append(contentsOf: RaftCodec.encode(Snapshot(metadata: metadata, data: data)))
        var expected = ByteWriter()
        expected.u32(CRC32C.checksum(rest.bytes))
        expected.bytes.append(contentsOf: rest.bytes)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: directory.path + "/snapshot"))) == expected.bytes)
        let (state, snapshot) = try DurableRaftStorage(directory: directory.path).load()
        #expect(snapshot == Snapshot(metadata: metadata, data: data))
        #expect(state.entries.map(\.index) == Array(16...20))
    }

    @Test("a source that writes more or fewer bytes than it declared fails, and the previous snapshot and log stay")
    func wrongCountKeepsThePreviousSnapshot() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let storage = try DurableRaftStorage(directory: directory.path)
        try storage.setHardState(HardState(term: 2))
        try storage.appendAndSync(entries(1...20, term: 2))
        let first = Snapshot(metadata: SnapshotMetadata(index: 5, term: 2, config: metadata.config), data: [1, 2, 3])
        try storage.saveSnapshot(first)
        for declared in [data.count - 1, data.count + 1] {
            #expect(throws: RaftError.self) { try storage.saveSnapshot(metadata, data: source(data, parts: 1000, count: declared)) }
            #expect(try storage.storedSnapshot() == first)
            #expect(!FileManager.default.fileExists(atPath: directory.path + "/snapshot.tmp"))
        }
        let (state, snapshot) = try DurableRaftStorage(directory: directory.path).load()
        #expect(snapshot == first)
        #expect(state.entries.map(\.index) == Array(6...20))

        var memory = InMemoryRaftStorage()
        try memory.saveSnapshot(first)
        #expect(throws: RaftError.self) { try memory.saveSnapshot(metadata, data: source(data, parts: 1000, count: data.count + 1)) }
        #expect(try memory.storedSnapshot() == first)
        try memory.saveSnapshot(metadata, data: source(data, parts: 999))
        #expect(try memory.storedSnapshot() == Snapshot(metadata: metadata, data: data))
    }

    @Test("a snapshot larger than the header read comes back whole; a flipped data byte or a cut file is refused")
    func largeSnapshotReadsBackAndIsChecked() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let large = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 9) }
        let path = directory.path + "/snapshot"
        do {
            let storage = try DurableRaftStorage(directory: directory.path)
            try storage.setHardState(HardState(term: 2))
            try storage.appendAndSync(entries(1...20, term: 2))
            try storage.saveSnapshot(metadata, data: source(large, parts: 65_536))
            #expect(try storage.storedSnapshot() == Snapshot(metadata: metadata, data: large))
        }
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 1000] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: RaftError.self) { try DurableRaftStorage(directory: directory.path) }
        do {
            _ = try DurableRaftStorage(directory: directory.path)
        } catch {
            #expect(error.message.contains("checksum mismatch"), "\(error)")
        }
        bytes[bytes.count - 1000] ^= 0x40
        try Data(bytes.dropLast(10)).write(to: URL(fileURLWithPath: path))
        #expect(throws: RaftError.self) { try DurableRaftStorage(directory: directory.path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try DurableRaftStorage(directory: directory.path).storedSnapshot() == Snapshot(metadata: metadata, data: large))
    }
}
