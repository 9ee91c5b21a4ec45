import DiscoTestKit
import Foundation
import Testing

// MARK: - discoctl when its event loops cannot start

/// A library user that never starts the shared event loops itself (discoctl: it makes an
/// `HTTPClient` and sends) started them when the client was made, through
/// `EventLoopGroup.shared`, and a failure there trapped (`fatalError`): with no descriptor to
/// spare, discoctl died of a signal with a runtime trace. Now the client starts them at its first
/// connection, and a failure is that request's error: discoctl says so and exits 1.
///
/// The descriptor limit (`ulimit -n`, soft and hard) is raised one at a time from the fewest a
/// process can load its libraries with: below some limit the loops cannot start, and every run
/// that reached them must say so and exit 1 rather than trap. A little above, discoctl gets past
/// its loops and reports that nothing listens at the node's address.
@Suite("discoctl: event loops that cannot start", .timeLimit(.minutes(5)))
struct DiscoctlEventLoopStartProcessTests {
    @Test func aClientWhoseEventLoopsCannotStartSaysSoAndExits() async throws {
        let executable = try ExecutableRunner.productsDirectory().appending(path: "discoctl").path
        let refusing = try FreePort.Refusing()  // nothing listens there
        // No runtime backtracer: started at a trap with no descriptor to spare, it can hang
        // holding discoctl's output open (what is tested is the message and the exit status).
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        var loopFailures = 0
        var passedTheLoops = false
        for limit in 4...64 {
            let run = try await ChildProcess.run("/bin/sh", ["-c", "ulimit -n \(limit) && exec \"$0\" \"$@\"", executable,
                                                             "-addr", "127.0.0.1:\(refusing.port)", "status"],
                                                  environment: environment)
            guard run.output.contains("event loops") else {
                // Below the loops' limit, discoctl may stop before it reaches them; past them, it
                // reaches for the node and finds nothing there.
                if run.output.contains("cannot reach the node") {
                    passedTheLoops = true
                    break
                }
                continue
            }
            #expect(!run.output.contains("Fatal error"), "ulimit -n \(limit): a trap, status \(run.status):\n\(run.output.suffix(2000))")
            #expect(run.output.contains("discoctl status: ") && run.output.contains("cannot start the shared event loops")
                        && run.output.contains("raise its limit (ulimit -n)"), "ulimit -n \(limit):\n\(run.output.suffix(2000))")
            // With no descriptor at all to spare, libdispatch may stop the process (SIGILL) before
            // it exits, as it would anywhere else (DescriptorHeadroom); the message came first.
            if run.status == 1 { loopFailures += 1 }
        }
        #expect(loopFailures > 0, "no descriptor limit kept the event loops from starting with an exit status of 1")
        #expect(passedTheLoops, "no descriptor limit up to 64 let discoctl past its event loops")
    }
}
