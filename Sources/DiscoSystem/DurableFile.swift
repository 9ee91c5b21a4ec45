#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Synchronization

// MARK: - DurableFile

/// Small files that must survive crashes whole: identities, promises, Raft hard state and
/// snapshots.
public enum DurableFile {
    /// A failed system call, naming the file.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public let path: String
        public let operation: String
        public let errno: Int32

        public init(path: String, operation: String, errno: Int32) {
            self.path = path
            self.operation = operation
            self.errno = errno
        }

        public var description: String { "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))" }
    }

    /// Replaces `path` with `bytes` so that a crash leaves either the old or the new content:
    /// write a temporary file, fsync it, rename it over `path`, fsync the directory. `mode` sets
    /// the new file's permissions (0600 for secrets).
    public static func replace(_ path: String, with bytes: [UInt8], mode: mode_t = 0o644) throws(Failure) {
        try replace(path, withParts: [bytes], mode: mode)
    }

    /// Replaces `path` with the concatenation of `parts`, as ``replace(_:with:mode:)`` does, without
    /// joining them in memory first (a large file's header and body can be written as they are).
    public static func replace(_ path: String, withParts parts: [[UInt8]], mode: mode_t = 0o644) throws(Failure) {
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(path: temporary, operation: "open", errno: errno) }
        for bytes in parts {
            var written = 0
            while written < bytes.count {
                let count = bytes.withUnsafeBytes { buffer -> Int in
                    guard let base = buffer.baseAddress else { return 0 }
                    return write(fd, base + written, bytes.count - written)
                }
                if count < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    close(fd)
                    unlink(temporary)  // half written: it would only take space (a full disk's, say)
                    throw Failure(path: temporary, operation: "write", errno: code)
                }
                written += count
            }
        }
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            unlink(temporary)
            throw Failure(path: temporary, operation: "fsync", errno: code)
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw Failure(path: temporary, operation: "rename", errno: code)
        }
        try syncDirectory(directory(of: path))
    }

    /// Makes renames and creations in `directory` durable.
    public static func syncDirectory(_ directory: String) throws(Failure) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: directory, operation: "open", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(path: directory, operation: "fsync", errno: errno) }
    }

    /// The directory part of `path` (`.` for a bare name).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

// MARK: - FileLock

/// An exclusive `flock` on a file, held until ``release()`` or deinit, so two processes (or two
/// nodes in one process) never use the same directory.
public final class FileLock: Sendable {
    /// Why the lock was not taken; `heldElsewhere` when another holder has it.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public let path: String
        public let heldElsewhere: Bool
        /// The process that holds the lock, as it wrote itself into the file (nil: unknown).
        public let holder: Int32?
        public let reason: String
        public var description: String { "cannot lock \(path): \(reason)" }

        public init(path: String, heldElsewhere: Bool, holder: Int32? = nil, reason: String) {
            self.path = path
            self.heldElsewhere = heldElsewhere
            self.holder = holder
            self.reason = reason
        }
    }

    public let path: String
    private let descriptor: Mutex<Int32>

    /// Takes the lock without waiting (creating the file if needed), and writes this process's
    /// ID into the file, so a process refused the lock can name its holder.
    public init(path: String) throws(Failure) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failure(path: path, heldElsewhere: false, reason: String(cString: strerror(errno)))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = code == EWOULDBLOCK ? Self.recordedHolder(fd) : nil
            close(fd)
            throw Failure(path: path, heldElsewhere: code == EWOULDBLOCK, holder: holder,
                          reason: code == EWOULDBLOCK
                              ? "held by " + (holder.map { "process \($0)" } ?? "another process or node") : String(cString: strerror(code)))
        }
        // The holder's ID, for a process refused the lock to name (a hint only: the lock is
        // the flock, so a failed write changes nothing).
        let record = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 {
            _ = record.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        descriptor = Mutex(fd)
    }

    /// The process ID the lock's holder wrote into the file, if it is one.
    private static func recordedHolder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let digits = buffer[0..<count].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return Int32(String(decoding: digits, as: UTF8.self)).flatMap { $0 > 0 ? $0 : nil }
    }

    /// Releases the lock (once; later calls do nothing).
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            // Unlock before closing: a child this process is spawning at this moment holds a
            // copy of the descriptor until its exec closes it, and closing ours alone would
            // leave the lock held by that copy meanwhile (the next holder would be refused).
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}
