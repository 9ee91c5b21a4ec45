import DiscoCore
import DiscoSystem
import DiscoTestKit
import Glibc
import Testing

@Suite("Shell commands with a time limit")
struct ShellCommandTests {
    private func temporaryPath(_ name: String) -> String {
        "/tmp/disco-shellcommand-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))"
    }

    private func read(_ path: String) -> String {
        guard let bytes = try? ProcessEnvironment.readFileIfExists(path) else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func exitStatusesAndSignalsAreReported() async {
        #expect(await ShellCommand.run("true", timeout: .seconds(30)) == .exited(0))
        #expect(await ShellCommand.run("exit 7", timeout: .seconds(30)) == .exited(7))
        #expect(await ShellCommand.run("kill -TERM $$", timeout: .seconds(30)) == .signaled(SIGTERM))
        #expect(await ShellCommand.run("true", timeout: .seconds(30)).succeeded)
    }

    @Test func theCommandSeesTheDaemonsEnvironmentPlusTheExtraVariables() async {
        let output = temporaryPath("env")
        defer { unlink(output) }
        let outcome = await ShellCommand.run("echo \"$DISCO_FENCING_TOKEN:$PATH\" > \(output)",
                                             environment: ["DISCO_FENCING_TOKEN": "42"], timeout: .seconds(30))
        #expect(outcome == .exited(0))
        let path = ProcessEnvironment.value("PATH") ?? ""
        #expect(read(output) == "42:\(path)\n")
    }

    @Test func aCommandPastItsTimeLimitIsKilledWithWhatItStarted() async throws {
        let pidFile = temporaryPath("pid")
        defer { unlink(pidFile) }
        // The shell starts a background sleep and waits for it: both must die at the limit.
        let started = ContinuousClock.now
        let outcome = await ShellCommand.run("sleep 60 & echo $! > \(pidFile); wait", timeout: .milliseconds(300))
        #expect(outcome == .timedOut(.milliseconds(300)))
        #expect(ContinuousClock.now - started < .seconds(50))
        let child = try #require(read(pidFile).split(separator: "\n").first.flatMap { pid_t($0) })
        // The background sleep was in the command's process group, so the kill reached it.
        try await waitUntil("the background sleep is gone") { kill(child, 0) != 0 }
    }

    @Test func aMissingShellCommandIsAnExitStatusNotACrash() async {
        #expect(await ShellCommand.run("/nonexistent/program", timeout: .seconds(30)) == .exited(127))
    }
}
