#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Synchronization

// MARK: - DataDirectoryLock

/// An exclusive `flock` on `<data-dir>/lock`, held while a node runs, so two nodes (in one
/// process or two) never write the same WAL.
final class DataDirectoryLock: Sendable {
    private let descriptor: Mutex<Int32>
    let path: String

    /// Takes the lock without waiting, or explains who holds it.
    init(directory: String) throws(RaftShellError) {
        path = directory + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RaftShellError(.storage, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK ? "another node is using this data directory" : String(cString: strerror(errno))
            close(fd)
            throw RaftShellError(.storage, "cannot lock \(path): \(reason)")
        }
        descriptor = Mutex(fd)
    }

    /// Releases the lock (once).
    func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            close(fd)  // closing the only descriptor drops the flock
            fd = -1
        }
    }

    deinit { release() }
}
