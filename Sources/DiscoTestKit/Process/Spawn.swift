import Dispatch
@preconcurrency import Glibc

// MARK: - Spawning with a clean signal state

/// A started child: its pid and the read ends of its stdout and stderr pipes.
struct SpawnedChild {
    let pid: pid_t
    let stdout: Int32
    let stderr: Int32
}

/// Starts `executable` with `posix_spawn`, stdin from /dev/null (or `input`, written from a
/// queue of its own and then closed) and stdout/stderr on pipes; in `directory` when given.
///
/// The child gets an empty signal mask and default signal dispositions. (Threads of a test
/// runner often block most signals, and a blocked mask survives `exec`: a child started with
/// Foundation's `Process` from such a thread never sees SIGTERM.) The child also gets its own
/// process group, so terminal signals aimed at the test runner do not reach it.
func spawnChild(executable: String, arguments: [String], environment: [String: String], directory: String? = nil,
                input: [UInt8]? = nil) throws(ChildProcess.Failure) -> SpawnedChild {
    // Every end is close-on-exec from its creation: a child spawned meanwhile by another thread
    // never inherits one (it would keep this child's output open after it exits, and our reader
    // would never see the end). The file actions' dup2 gives this child its own copies.
    var inPipe: [Int32] = [-1, -1]
    if input != nil {
        guard closeOnExecPipe(&inPipe) == 0 else { throw .init(description: "pipe failed: errno \(errno)") }
    }
    var outPipe: [Int32] = [-1, -1]
    var errPipe: [Int32] = [-1, -1]
    guard closeOnExecPipe(&outPipe) == 0 else { throw .init(description: "pipe failed: errno \(errno)") }
    guard closeOnExecPipe(&errPipe) == 0 else {
        close(outPipe[0])
        close(outPipe[1])
        throw .init(description: "pipe failed: errno \(errno)")
    }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if input != nil {
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
    } else {
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    }
    if let directory {
        guard let addChdir = spawnAddChdir else { throw .init(description: "this C library cannot start a child in a directory") }
        _ = directory.withCString { addChdir(&actions, $0) }
    }
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    posix_spawnattr_setsigmask(&attributes, &emptyMask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in 1..<32 where signal != SIGKILL && signal != SIGSTOP {
        sigaddset(&defaults, Int32(signal))
    }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    close(outPipe[1])
    close(errPipe[1])
    if input != nil { close(inPipe[0]) }
    guard result == 0 else {
        close(outPipe[0])
        close(errPipe[0])
        if input != nil { close(inPipe[1]) }
        throw .init(description: "posix_spawn \(executable) failed: \(String(cString: strerror(result)))")
    }
    if let input {
        let writeEnd = inPipe[1]
        DispatchQueue(label: "disco.testkit.child-input").async {
            var offset = 0
            while offset < input.count {
                let count = input[offset...].withUnsafeBytes { write(writeEnd, $0.baseAddress, $0.count) }
                if count > 0 { offset += count } else if count < 0 && errno == EINTR { continue } else { break }
            }
            close(writeEnd)
        }
    }
    return SpawnedChild(pid: pid, stdout: outPipe[0], stderr: errPipe[0])
}

/// `pipe2(fds, O_CLOEXEC)`: a pipe whose ends are close-on-exec from the start. Swift does not
/// import `pipe2`; it is looked up at run time.
private func closeOnExecPipe(_ fds: inout [Int32]) -> Int32 {
    guard let pipe2 = spawnPipe2 else { return -1 }
    return fds.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { pipe2($0, O_CLOEXEC) } ?? -1 }
}

private let spawnPipe2: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32)? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self)
}()

/// glibc's `posix_spawn_file_actions_addchdir_np` (2.29 and later), looked up at run time: Swift
/// does not import it. Changing the child's directory in its file actions leaves the parent's
/// directory, which every thread shares, alone.
private let spawnAddChdir: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32)? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)
}()

/// Reads `fd` until end of file on its own thread, handing each chunk to `sink`; closes `fd`
/// and calls `atEnd`.
func drain(_ fd: Int32, into sink: @escaping @Sendable (String) -> Void, atEnd: @escaping @Sendable () -> Void = {}) {
    DispatchQueue(label: "disco.testkit.child-output").async {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count > 0 {
                sink(String(decoding: buffer[0..<count], as: UTF8.self))
            } else if count < 0, errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(fd)
        atEnd()
    }
}

/// Waits for `pid` to end on its own thread and reports its status: the exit code, or 128 plus
/// the signal number when a signal ended it (as shells report it).
func reap(_ pid: pid_t, then report: @escaping @Sendable (Int32) -> Void) {
    DispatchQueue(label: "disco.testkit.child-reaper").async {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                report(-1)
                return
            }
        }
        let signal = status & 0x7F
        report(signal == 0 ? (status >> 8) & 0xFF : 128 + signal)
    }
}
