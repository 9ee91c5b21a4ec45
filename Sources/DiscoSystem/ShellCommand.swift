import Dispatch
@preconcurrency import Glibc
import Synchronization

// MARK: - ShellCommand

/// Runs an operator's command line (`/bin/sh -c COMMAND`) as a child process with extra
/// environment variables and a time limit, without blocking any thread of Swift's cooperative
/// pool: the wait happens on a thread of its own dispatch queue.
///
/// The child gets standard input from `/dev/null`, shares the daemon's standard output and error
/// (its lines land in the same log), starts with an empty signal mask and default signal
/// handling (whatever the daemon blocks for its own signal handling), and leads its own process
/// group, so a timeout kills the command and everything it started.
public enum ShellCommand {
    /// How a command ended.
    public enum Outcome: Hashable, Sendable, CustomStringConvertible {
        /// It exited with this status (0: success).
        case exited(Int32)
        /// A signal ended it.
        case signaled(Int32)
        /// It ran past its time limit and was killed with its process group.
        case timedOut(Duration)
        /// It could not be started.
        case failedToStart(String)

        /// Whether the command exited with status 0.
        public var succeeded: Bool { self == .exited(0) }

        public var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signaled(let signal): "ended by signal \(signal)"
            case .timedOut(let limit): "killed after running longer than \(limit)"
            case .failedToStart(let reason): "could not start: \(reason)"
            }
        }
    }

    /// The shell that runs commands.
    public static let shell = "/bin/sh"

    /// Runs `command` with the daemon's environment plus `environment` (which wins on a clash),
    /// and kills its process group once it has run for `timeout`. Cancelling the calling task
    /// kills it too. Returns when the command has ended and was reaped.
    public static func run(_ command: String, environment: [String: String] = [:], timeout: Duration) async -> Outcome {
        let pid: pid_t
        switch spawn(command, environment: environment) {
        case .success(let started): pid = started
        case .failure(let failure): return .failedToStart(failure.reason)
        }
        let child = RunningChild(pid: pid)
        return await withTaskCancellationHandler {
            await waitOrKill(child, timeout: timeout)
        } onCancel: {
            child.killGroup()
        }
    }

    /// Waits for `child`, killing its group at `timeout`.
    private static func waitOrKill(_ child: RunningChild, timeout: Duration) async -> Outcome {
        await withTaskGroup(of: Outcome?.self) { group in
            group.addTask { await child.waitForExit() }
            group.addTask {
                // Ends early (by cancellation) when the command exits first.
                do { try await Task.sleep(for: timeout) } catch { return nil }
                child.killGroup()
                return .timedOut(timeout)
            }
            var result: Outcome = .failedToStart("no outcome")
            var exited: Outcome?
            var timedOut = false
            while let next = await group.next() {
                guard let outcome = next else { continue }
                if case .timedOut = outcome {
                    timedOut = true
                } else {
                    exited = outcome
                    group.cancelAll()
                }
            }
            if timedOut { result = .timedOut(timeout) } else if let exited { result = exited }
            return result
        }
    }

    // MARK: Spawning

    struct SpawnFailure: Error {
        let reason: String
    }

    static func spawn(_ command: String, environment extra: [String: String]) -> Result<pid_t, SpawnFailure> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in 1..<32 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&defaults, Int32(signal)) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var variables = currentEnvironment()
        for (name, value) in extra { variables[name] = value }
        let words: [String] = [shell, "-c", command]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, shell, &actions, &attributes, argv, envp)
        guard result == 0 else { return .failure(SpawnFailure(reason: "posix_spawn \(shell): \(String(cString: strerror(result)))")) }
        return .success(pid)
    }

    /// The daemon's environment as name → value.
    static func currentEnvironment() -> [String: String] {
        var variables: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry = entry.advanced(by: 1)
        }
        return variables
    }
}

// MARK: - RunningChild

/// A started child: waits for it on a dispatch thread, and kills its group only while it has not
/// been reaped (a reaped pid may already belong to another process).
private final class RunningChild: Sendable {
    let pid: pid_t
    /// True once the child has exited (seen with WNOWAIT, before it is reaped).
    private let exited = Mutex(false)

    init(pid: pid_t) { self.pid = pid }

    func waitForExit() async -> ShellCommand.Outcome? {
        await BlockingWork.run("shell-command-wait") { self.blockingWait() }
    }

    /// Waits without reaping, marks the child exited, then reaps it: a kill that checks the mark
    /// under the lock can never hit a recycled pid.
    private func blockingWait() -> ShellCommand.Outcome {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            guard errno == EINTR else { return .failedToStart("waitid: \(String(cString: strerror(errno)))") }
        }
        exited.withLock { $0 = true }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
    }

    /// SIGKILL to the child's process group, unless the child has already exited.
    func killGroup() {
        exited.withLock { exited in
            guard !exited else { return }
            kill(-pid, SIGKILL)
        }
    }
}
