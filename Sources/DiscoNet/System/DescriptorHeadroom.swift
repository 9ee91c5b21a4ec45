#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import Synchronization

// MARK: - Descriptors kept free for the runtime

/// Sockets (accepted and opened) never take the last ``reserved`` descriptors below the
/// process's limit (`RLIMIT_NOFILE`): a socket that would is closed at once and its creation
/// fails with `EMFILE`, as if the limit had been reached.
///
/// The rest of the process needs descriptors that nothing else may take: libdispatch (under
/// Swift concurrency's global executor) checks its worker threads once a second by opening
/// `/proc/<tid>/stat`, and when that `open` fails it stops the process ("workq: registered
/// worker exited prematurely", a trap). Clients that open connections until the limit, or a
/// proxy whose upstream leads back to it, would otherwise take every descriptor and the
/// process would die within seconds. Files the node opens (its log, snapshots), name
/// resolution and TLS files get these descriptors too.
///
/// The kernel hands out the lowest free number, so a socket numbered at or above
/// `limit - reserved` means fewer than `reserved` descriptors are left.
enum DescriptorHeadroom {
    /// Descriptors left free for everything but sockets.
    static let reserved = 16

    /// The first descriptor number a socket may not keep: the soft limit less ``reserved``,
    /// read again whenever a socket reaches it (the limit is raised at the start), and every
    /// ``rereadEvery`` sockets (the limit may be lowered while the process runs: `setrlimit`,
    /// or `prlimit` from outside).
    private static let threshold = Atomic<Int>(0)
    /// Sockets left before the limit is read again. Counted down with a plain load and store,
    /// not an atomic decrement (no locked instruction on every accept): a decrement lost to a
    /// race only moves the next read by a socket.
    private static let untilReread = Atomic<Int>(0)
    /// At most this many sockets are admitted against a limit read before them: a lowered
    /// limit is seen within as many sockets, long before sockets climb into the descriptors it
    /// leaves free (unless it is lowered to within that many of the descriptors in use).
    static let rereadEvery = 64

    /// Whether a socket may keep descriptor `fd`.
    static func admits(_ fd: Int32) -> Bool {
        let number = Int(fd)
        if number < threshold.load(ordering: .relaxed) {
            let left = untilReread.load(ordering: .relaxed)
            if left > 0 {
                untilReread.store(left - 1, ordering: .relaxed)
                return true
            }
        }
        return admitsReadingTheLimit(number)
    }

    /// The slow path of ``admits(_:)``: reads the soft limit and keeps the threshold it sets.
    private static func admitsReadingTheLimit(_ number: Int) -> Bool {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return true }
        let current = firstRefused(softLimit: limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur))
        threshold.store(current, ordering: .relaxed)
        untilReread.store(rereadEvery, ordering: .relaxed)
        return number < current
    }

    /// The first descriptor number a socket may not keep under soft limit `soft`.
    static func firstRefused(softLimit soft: Int) -> Int {
        soft == Int.max ? Int.max : max(soft - reserved, 0)
    }

    /// Closes `fd` and throws `EMFILE` from `function` unless a socket may keep it.
    static func keep(_ fd: Int32, from function: String) throws(SystemError) -> Int32 {
        guard admits(fd) else {
            closeDescriptor(fd)
            throw SystemError(function: function, errno: EMFILE)
        }
        return fd
    }
}
