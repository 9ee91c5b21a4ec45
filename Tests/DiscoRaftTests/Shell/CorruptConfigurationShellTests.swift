import DiscoCore
import DiscoNet
import DiscoRaft
import DiscoSystem
import DiscoTestKit
import Synchronization
import Testing

// MARK: - The shell stops on a configuration entry it cannot decode

@Suite("RaftNodeShell: corrupt configuration entries", .serialized, .timeLimit(.minutes(2)))
struct CorruptConfigurationShellTests {
    /// Not a configuration the codec can read.
    let garbage: [UInt8] = [0xFF, 0x00, 0x13]

    func configuration(_ id: NodeID, _ directory: TemporaryDirectory, _ book: TestAddressBook, _ logs: MemoryLogSink) -> RaftShellConfiguration {
        RaftShellConfiguration(id: id, dataDirectory: directory.path + "/" + id.rawValue, addressBook: book.book,
                               logger: Logger(label: "raft-\(id)", level: .info, handler: LogfmtHandler(sink: logs)))
    }

    @Test("a node sent an undecodable configuration entry stops with an error naming it, and never stored it")
    func stopsOnCorruptEntryFromLeader() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let book = TestAddressBook()
        let logs = MemoryLogSink()
        let shell = try await RaftNodeShell.start(configuration("b", directory, book, logs), stateMachine: RecordingStateMachine())
        book.set("b", shell.listenAddress)
        let leadership = shell.leadershipChanges()
        // A "leader" a: a bare transport that sends b one append holding a corrupt configuration.
        let leader = try await RaftTransport.start(localID: "a", addressBook: book.book, options: RaftTransportOptions(),
                                                   logger: Logger(label: "a", handler: LogfmtHandler(sink: MemoryLogSink()))) { _ in }
        leader.send(Message(from: "a", to: "b", term: 3, body: .append(AppendRequest(
            prevIndex: 0, prevTerm: 0, entries: [Entry(term: 3, index: 1, kind: .config, data: garbage)], commit: 0))))

        try await waitUntil("b to stop") { shell.status.isStopped }
        let failure = try #require(shell.status.failure)
        #expect(failure.contains("configuration entry at index 1 (term 3) from leader a cannot be decoded"), "\(failure)")
        #expect(logs.lines.contains { $0.contains("level=critical") && $0.contains("configuration entry at index 1") })
        var changes = 0
        for await _ in leadership { changes += 1 }  // ends: the node stopped
        #expect(changes >= 1)
        await #expect(throws: RaftShellError.self) { _ = try await shell.propose([1]) }
        await leader.close(flushing: false)
        await shell.shutdown(transferLeadership: false)

        // The corrupt entry never reached the disk: b starts again, empty.
        let restarted = try await RaftNodeShell.start(configuration("b", directory, book, logs), stateMachine: RecordingStateMachine())
        #expect(restarted.status.lastIndex == 0 && !restarted.status.isStopped && restarted.status.failure == nil)
        await restarted.shutdown(transferLeadership: false)
    }

    @Test("a data directory holding an undecodable configuration entry does not start")
    func refusesToStartOnCorruptStorage() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let book = TestAddressBook()
        var storage = try DurableRaftStorage(directory: directory.path + "/c")
        try storage.initialize(with: PersistentState(hardState: HardState(term: 2), entries: [
            Entry(term: 1, index: 1, kind: .config, data: RaftCodec.encode(ClusterConfig(voters: ["c"]))),
            Entry(term: 2, index: 2, kind: .config, data: garbage),
        ]))
        try storage.sync()
        let error = await #expect(throws: RaftError.self) {
            _ = try await RaftNodeShell.start(configuration("c", directory, book, MemoryLogSink()), stateMachine: RecordingStateMachine())
        }
        #expect(error?.code == .corruptConfiguration)
        #expect(error?.message.contains("configuration entry at index 2 (term 2) from storage cannot be decoded") == true, "\(String(describing: error))")
    }
}
