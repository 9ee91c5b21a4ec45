import DiscoTestKit
import Glibc
import Testing

/// `ChildProcess.waitForExit` waits for the output pipes' end, not only for the exit.
@Suite struct ChildProcessTests {
    /// A child of the process writes on its stdout 7 s after the process exited: waitForExit
    /// returns with that line in the output. (It used to give the output 5 s and carry on.)
    @Test func waitForExitWaitsForOutputAChildOfTheProcessStillWrites() async throws {
        let shell = ChildProcess(name: "sh", executable: "/bin/sh", arguments: ["-c", "echo first; (sleep 7; echo last) & exit 0"])
        try shell.start()
        #expect(try await shell.waitForExit(timeout: .seconds(60)) == 0)
        #expect(shell.output == "first\nlast\n")
    }

    /// Output that has not ended `outputTimeout` after the exit is a failure saying so, with the
    /// output so far; it is not handed back as if it were complete.
    @Test func outputThatDoesNotEndIsReported() async throws {
        let shell = ChildProcess(name: "sh", executable: "/bin/sh", arguments: ["-c", "echo first; sleep 300 & exit 0"])
        try shell.start()
        let group = try #require(shell.pid)
        await #expect { try await shell.waitForExit(timeout: .seconds(60), outputTimeout: .milliseconds(500)) } throws: { error in
            let text = "\(error)"
            return error is ChildProcess.Failure && text.contains("sh exited with status 0 but its output had not ended")
                && text.contains("first")
        }
        kill(-group, SIGKILL)  // the sleep, in the process group the shell led
        #expect(try await shell.waitForExit(timeout: .seconds(60)) == 0)
    }
}
