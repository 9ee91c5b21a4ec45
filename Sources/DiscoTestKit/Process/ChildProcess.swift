import Foundation
import Synchronization

// MARK: - ChildProcess

/// A real executable started for a test, with its output captured as it is written.
///
/// Output is read continuously (not only at exit), so a test can wait for a log line while the
/// process runs. The process is always killed: by ``stop(grace:)``, or at the latest when the
/// object is deinitialised.
public final class ChildProcess: Sendable {
    /// Why a child process could not be used.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A short name for messages, such as `dnsmasq`.
    public let name: String
    /// The executable's path.
    public let executable: String
    /// The arguments given.
    public let arguments: [String]

    private struct State {
        var pid: pid_t?
        var output = ""
        var exitStatus: Int32?
        /// Output pipes not yet read to their end.
        var openStreams = 0
    }
    private let state = Mutex(State())

    public init(name: String, executable: String, arguments: [String]) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
    }

    deinit {
        let (pid, exited) = state.withLock { ($0.pid, $0.exitStatus != nil) }
        if let pid, !exited { kill(pid, SIGKILL) }
    }

    // MARK: Starting

    /// Starts the process with stdout and stderr captured; fails clearly when the binary is
    /// missing. `environment` defaults to this process's environment.
    public func start(environment: [String: String]? = nil) throws {
        guard access(executable, X_OK) == 0 else {
            throw Failure(description: "\(name): \(executable) is missing or not executable; install it (scripts/test installs dnsmasq-base, etcd-server and nginx-light)")
        }
        let child = try spawnChild(executable: executable, arguments: arguments, environment: environment ?? ProcessInfo.processInfo.environment)
        state.withLock {
            $0.pid = child.pid
            $0.exitStatus = nil  // a process can be started again after it stopped
            $0.openStreams = 2
        }
        for fd in [child.stdout, child.stderr] {
            drain(fd, into: { [weak self] text in self?.state.withLock { $0.output += text } },
                  atEnd: { [weak self] in self?.state.withLock { $0.openStreams -= 1 } })
        }
        reap(child.pid) { [weak self] status in self?.state.withLock { $0.exitStatus = status } }
    }

    // MARK: Observing

    /// Everything written to stdout and stderr so far.
    public var output: String { state.withLock { $0.output } }

    /// The process ID, once started.
    public var pid: Int32? { state.withLock { $0.pid } }

    /// The exit status once the process has ended: the exit code, or 128 + the signal number.
    public var exitStatus: Int32? { state.withLock { $0.exitStatus } }

    /// Whether the process has been started and has not ended.
    public var isRunning: Bool { state.withLock { $0.pid != nil && $0.exitStatus == nil } }

    /// Waits until a line of output contains `text`; returns that line. Fails early, with the
    /// output so far, when the process exits first.
    @discardableResult
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(60)) async throws -> String {
        var found: String?
        do {
            try await waitUntil("\(name) to print \(text.debugDescription)", timeout: timeout) {
                let (output, exited) = state.withLock { ($0.output, $0.exitStatus) }
                if let line = output.split(separator: "\n").first(where: { $0.contains(text) }) {
                    found = String(line)
                    return true
                }
                if let exited { throw Failure(description: "\(name) exited with status \(exited) before printing \(text.debugDescription); output:\n\(output)") }
                return false
            }
        } catch let timeout as WaitTimeout {
            throw Failure(description: "\(timeout); output so far:\n\(output)")
        }
        return found ?? ""
    }

    // MARK: Signals and stopping

    /// Sends `signal` (SIGTERM, SIGKILL, SIGSTOP, SIGCONT, ...) if the process runs.
    public func send(_ signal: Int32) {
        state.withLock { state in
            if let pid = state.pid, state.exitStatus == nil { kill(pid, signal) }
        }
    }

    /// Waits for the process to end, and then for ``output`` to hold everything it wrote (its
    /// stdout and stderr pipes read to their end). Throws when it is still running after
    /// `timeout`, or when its output has not ended `outputTimeout` after it exited: a process it
    /// started still holds the pipes, and what ``output`` holds may be cut short.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(60), outputTimeout: Duration = .seconds(60)) async throws -> Int32 {
        let status = try await waitForExitStatus(timeout: timeout)
        try await waitForOutputEnd(timeout: outputTimeout)
        return status
    }

    /// Waits until the process has been reaped; its output may still be arriving.
    private func waitForExitStatus(timeout: Duration) async throws -> Int32 {
        try await waitUntil("\(name) to exit", timeout: timeout) { exitStatus != nil }
        return exitStatus ?? -1
    }

    /// Waits until both output pipes were read to their end: a moment after the exit, or later
    /// when a child of the process still holds them.
    private func waitForOutputEnd(timeout: Duration) async throws {
        do {
            try await waitUntil("\(name)'s output to end", timeout: timeout) { state.withLock { $0.openStreams <= 0 } }
        } catch is WaitTimeout {
            throw Failure(description: "\(name) exited with status \(exitStatus ?? -1) but its output had not ended \(timeout) later "
                + "(a process it started still holds its stdout or stderr); the output so far, maybe cut short:\n\(output.suffix(6000))")
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; waits (at most 10 s more) until the process is reaped,
    /// then (at most 60 s more) until its output has ended; when it has not, ``output`` ends with
    /// a line saying so. Returns the exit status, or `nil` when the process was never started or
    /// was not reaped.
    @discardableResult
    public func stop(grace: Duration = .seconds(5)) async -> Int32? {
        guard pid != nil else { return nil }
        if exitStatus == nil {
            send(SIGCONT)  // a stopped process cannot act on SIGTERM
            send(SIGTERM)
            if (try? await waitForExitStatus(timeout: grace)) == nil {
                send(SIGKILL)
                guard (try? await waitForExitStatus(timeout: .seconds(10))) != nil else { return nil }
            }
        }
        do {
            try await waitForOutputEnd(timeout: .seconds(60))
        } catch is Failure {
            state.withLock { $0.output += "\n[DiscoTestKit] \(name)'s output had not ended 60 s after it exited "
                + "(a process it started still holds its stdout or stderr); it may be incomplete\n" }
        } catch {}  // cancelled
        return exitStatus
    }

    // MARK: Running a tool to completion

    /// Runs `executable` with `arguments` until it exits (killed after `timeout`) and returns its
    /// exit status and everything it printed (stdout and stderr together).
    public static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60),
                           environment: [String: String]? = nil) async throws -> (status: Int32, output: String) {
        let name = executable.split(separator: "/").last.map(String.init) ?? executable
        let process = ChildProcess(name: name, executable: executable, arguments: arguments)
        try process.start(environment: environment)
        do {
            let status = try await process.waitForExit(timeout: timeout)
            return (status, process.output)
        } catch let failure as Failure {
            throw failure  // it exited, but its output did not end
        } catch {
            await process.stop(grace: .milliseconds(100))
            throw Failure(description: "\(name) \(arguments.joined(separator: " ")) did not finish within \(timeout); output:\n\(process.output)")
        }
    }
}
