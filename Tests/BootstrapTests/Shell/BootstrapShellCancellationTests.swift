import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Testing
@testable import Bootstrap

/// Cancelling ``BootstrapShell/run()`` shuts the shell down through a task the shell owns, and
/// run() returns only after that shutdown has finished.
@Suite struct BootstrapShellCancellationTests {
    @Test("a cancelled run() ends with CancellationError after its shutdown ran; nothing it started is left")
    func cancellingRunShutsDownBeforeReturning() async throws {
        let me = BootstrapPeer(id: "me", raftAddress: "127.0.0.1:29400", apiAddress: "127.0.0.1:29401")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = BootstrapShell.Configuration(settings: .init(me: me, cluster: "disco", expect: 3), seed: 5,
                                                         promiseFile: PromiseFile(path: directory.file("promise.json")))
        let shell = try BootstrapShell(configuration: configuration, hooks: .init(lookup: { .success([]) }, bootstrap: { _ in }),
                                       logger: Logger(label: "bootstrap", handler: LogfmtHandler(sink: MemoryLogSink())))
        let run = Task { try await shell.run() }
        try await waitUntil("formation to be seeking") { shell.progress.state == .seeking }
        run.cancel()
        let result = await run.result
        #expect(throws: CancellationError.self) { try result.get() }
        // The shutdown the cancellation started has run, and its task has returned.
        #expect(shell.progress.state == .stopped, "\(shell.progress)")
        #expect(shell.cancellations.isClosed)
        #expect(shell.cancellations.count == 0)
        let leftOver = await shell.tasks.count + (shell.roundTask == nil ? 0 : 1)
        #expect(leftOver == 0, "shutdown left round or request tasks behind")
    }
}
