import DiscoTestKit
import Foundation
import Testing

// MARK: - discod when its event loops cannot start

/// The shared event loops (an `epoll` and an `eventfd` descriptor each) started at their first
/// use, deep inside the node's start, and a failure there trapped (`fatalError`): a daemon
/// started with no descriptor to spare died of a signal with a runtime trace. Now the daemon
/// starts them first and, when they cannot start, says so and exits 1.
///
/// The descriptor limit (`ulimit -n`, soft and hard) is raised one at a time from the fewest a
/// process can load its libraries with: below some limit the loops cannot start, and every run
/// that reached them must say so and exit 1 rather than trap. A little above, the node gets past
/// its loops and stops at once on its first socket (the HTTP API's), refused for the descriptors
/// it keeps free.
@Suite("discod: event loops that cannot start", .timeLimit(.minutes(5)))
struct DiscodEventLoopStartProcessTests {
    @Test func aDaemonWhoseEventLoopsCannotStartSaysSoAndExits() async throws {
        let executable = try DiscodProcess.executable("discod")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("disco-loops-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (http, raft) = (try FreePort.loopback(), try FreePort.loopback())
        var loopFailures = 0
        var passedTheLoops = false
        for limit in 4...64 {
            let run = try await ChildProcess.run("/bin/sh", ["-c", "ulimit -n \(limit) && exec \"$0\" \"$@\"", executable,
                                                             "-node-id", "1", "-http-addr=127.0.0.1:\(http)", "-raft-addr=127.0.0.1:\(raft)",
                                                             "\(directory)/\(limit)"])
            guard run.output.contains("event loops") else {
                // Below the loops' limit, the node may stop before it reaches them (its data
                // directory); past them, on its first socket.
                if run.output.contains("cannot serve the HTTP API") {
                    passedTheLoops = true
                    break
                }
                continue
            }
            #expect(!run.output.contains("Fatal error"), "ulimit -n \(limit): a trap, status \(run.status):\n\(run.output.suffix(2000))")
            #expect(run.output.contains("discod: cannot start the event loops: "), "ulimit -n \(limit):\n\(run.output.suffix(2000))")
            // With no descriptor at all to spare, libdispatch may stop the process (SIGILL) before
            // it exits, as it would anywhere else (DescriptorHeadroom); the message came first.
            if run.status == 1 { loopFailures += 1 }
        }
        #expect(loopFailures > 0, "no descriptor limit kept the event loops from starting with an exit status of 1")
        #expect(passedTheLoops, "no descriptor limit up to 64 let the node past its event loops")
    }
}
