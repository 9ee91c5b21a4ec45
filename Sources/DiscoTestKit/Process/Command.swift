import DiscoSystem
import Dispatch
import Foundation
@preconcurrency import Glibc

// MARK: - Command

/// Runs a short-lived program to completion and collects its standard output and standard error
/// apart (``ChildProcess`` is for servers that keep running).
public enum Command {
    public struct Outcome: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
        public var succeeded: Bool { status == 0 }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `executable` (a path, or a name looked up with ``which(_:)``) and waits for it, on a
    /// dispatch queue so the cooperative pool keeps running. A program still running after
    /// `timeout` is killed and reported as a failure. `directory`: where it runs (default: here);
    /// `input`: its standard input (default: empty).
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           directory: String? = nil, input: String? = nil, timeout: Duration = .seconds(60)) async throws -> Outcome {
        guard let path = executable.contains("/") ? executable : which(executable) else {
            throw Failure(description: "\(executable) is not installed (looked in PATH and the system directories)")
        }
        let child = try spawnChild(executable: path, arguments: arguments, environment: environment ?? ProcessInfo.processInfo.environment,
                                   directory: directory, input: input.map { Array($0.utf8) })
        let deadline = DispatchTime.now() + .nanoseconds(Int(timeout.components.seconds) * 1_000_000_000
            + Int(timeout.components.attoseconds / 1_000_000_000))
        let description = ([path] + arguments).joined(separator: " ")
        return try await BlockingWork.run("testkit-command") { () throws(Failure) in
            try collect(child, deadline: deadline, description: description)
        }
    }

    /// Runs the command and throws unless it exits 0; returns its standard output.
    @discardableResult
    public static func check(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                             timeout: Duration = .seconds(60)) async throws -> String {
        let outcome = try await run(executable, arguments, environment: environment, timeout: timeout)
        guard outcome.succeeded else {
            throw Failure(description: "\(([executable] + arguments).joined(separator: " ")) exited with \(outcome.status): "
                + "\(outcome.standardError)\(outcome.standardOutput)")
        }
        return outcome.standardOutput
    }

    /// The path of an executable on `PATH` or in the system's usual directories, or nil.
    public static func which(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in path + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    // MARK: Blocking collection

    private static func collect(_ child: SpawnedChild, deadline: DispatchTime, description: String) throws(Failure) -> Outcome {
        var output: [UInt8] = []
        var errors: [UInt8] = []
        var open: [Int32] = [child.stdout, child.stderr]
        var buffer = [UInt8](repeating: 0, count: 16_384)
        var timedOut = false
        while !open.isEmpty {
            let remaining = deadline.uptimeNanoseconds > DispatchTime.now().uptimeNanoseconds
                ? Int32(clamping: (deadline.uptimeNanoseconds - DispatchTime.now().uptimeNanoseconds) / 1_000_000) : 0
            if remaining == 0 {
                timedOut = true
                kill(child.pid, SIGKILL)
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), remaining)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count > 0 {
                    if entry.fd == child.stdout { output += buffer[0..<count] } else { errors += buffer[0..<count] }
                } else if count == 0 || errno != EINTR {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        for fd in open { close(fd) }
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0, errno == EINTR {}
        if timedOut { throw Failure(description: "\(description) did not finish in time and was killed") }
        let signal = status & 0x7F
        return Outcome(status: signal == 0 ? (status >> 8) & 0xFF : 128 + signal,
                       standardOutput: String(decoding: output, as: UTF8.self), standardError: String(decoding: errors, as: UTF8.self))
    }
}
