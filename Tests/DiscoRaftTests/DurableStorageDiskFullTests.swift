import DiscoCore
@testable import DiscoRaft
import DiscoTestKit
import Foundation
import Testing

// MARK: - A full disk

/// Storage on a tmpfs that fills up: a sync that finds no space fails with the reason (the shell
/// then stops the node, acknowledging nothing of that batch), and a later start, once there is
/// room, keeps every synced entry and cuts off the half-written batch.
@Suite("Durable Raft storage: a full disk", .enabled(if: TmpfsFixture.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN)"))
struct DurableStorageDiskFullTests {
    @Test("a sync on a full disk fails naming ENOSPC; the next start keeps every synced entry")
    func diskFull() throws {
        let disk = try TmpfsFixture(size: 256 << 10)
        defer { disk.remove() }
        let directory = disk.path + "/raft"
        var synced: [Entry] = []
        var attempted: [Entry] = []
        var failure: RaftError?
        do {
            let storage = try DurableRaftStorage(directory: directory)
            try storage.setHardState(HardState(term: 1, vote: "n1", commit: 0))
            for batch in 0..<1000 where failure == nil {
                let entries = (1...4).map { position in
                    Entry(term: 1, index: UInt64(batch * 4 + position), data: [UInt8](repeating: UInt8(position), count: 3000))
                }
                attempted += entries
                do {
                    try storage.append(entries)
                    try storage.sync()
                    synced += entries
                } catch {
                    failure = error
                }
            }
        }
        let error = try #require(failure, "the tmpfs never filled up")
        #expect(error.code == .io)
        #expect(error.message.contains("No space left on device"), "\(error.message)")
        #expect(!synced.isEmpty)

        try disk.resize(to: 1 << 20)
        let reopened = try DurableRaftStorage(directory: directory)
        let recovered = try reopened.load().state.entries
        // Every synced entry, and at most whole records of the batch the disk cut short.
        #expect(Array(recovered.prefix(synced.count)) == synced)
        #expect(recovered == Array(attempted.prefix(recovered.count)))
        #expect(try reopened.load().state.hardState.term == 1)
        // Writing goes on after the repaired tail.
        let next = Entry(term: 1, index: UInt64(recovered.count + 1), data: [9])
        try reopened.append([next])
        try reopened.sync()
        #expect(try DurableRaftStorage(directory: directory).load().state.entries == recovered + [next])
    }
}
