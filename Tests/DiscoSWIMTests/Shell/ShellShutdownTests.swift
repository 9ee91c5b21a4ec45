import DiscoCore
import DiscoNet
import DiscoSystem
@testable import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - Shutdown owns the push-pull answers

@Suite("SWIM shell: shutdown waits for the tasks it started")
struct ShellShutdownTests {
    @Test("shutdown cancels and awaits the task answering a push-pull connection that never sends")
    func shutdownAwaitsPushPullAnswers() async throws {
        var configuration = SWIM.Shell.Configuration(
            id: "answering", port: 0, settings: .testing,
            logger: Logger(label: "swim", level: .error, handler: LogfmtHandler()))
        // Far longer than the test: only shutdown can end the exchange.
        configuration.pushPullTimeout = .seconds(3_600)
        let shell = try await SWIM.Shell.start(configuration)
        let target = try #require(SocketAddress(numericHost: shell.address.host, port: shell.address.port))
        let silent = try RawSocketClient(connectTo: target)
        try await waitUntil("the shell to start answering the connection") { shell.answeringTasks.count == 1 }
        await shell.shutdown()
        #expect(shell.answeringTasks.count == 0, "shutdown returned while a push-pull answer still ran")
        #expect(shell.answeringTasks.isClosed)
        #expect(try await silent.isClosedByPeer(), "the unanswered connection was closed")
    }
}
