import DiscoCore
import DiscoSystem
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - Open file limit

/// Raises `RLIMIT_NOFILE`'s soft limit to the hard limit at start, so a node with many clients
/// and peers does not run out of descriptors at the distribution's default soft limit (often 1024).
public enum OpenFileLimit {
    /// `RLIM_INFINITY` on Linux (all bits set), which Swift cannot import from its C macro.
    private static let unlimited = rlim_t.max

    /// Raises the soft limit and logs the outcome (debug when it worked, a warning when not).
    public static func raise(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            logger.warning("cannot read the open file limit (RLIMIT_NOFILE): \(String(cString: strerror(errno)))")
            return
        }
        let before = limit.rlim_cur
        // An unlimited hard limit cannot be the soft one: the kernel caps descriptors at fs.nr_open.
        let target = limit.rlim_max == unlimited ? min(limit.rlim_max, kernelMaximum()) : limit.rlim_max
        guard before < target else {
            logger.debug("open file limit is \(before) (hard limit \(describe(limit.rlim_max)))")
            return
        }
        limit.rlim_cur = target
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            logger.warning("cannot raise the open file limit from \(before) to \(target): \(String(cString: strerror(errno)))")
            return
        }
        logger.debug("open file limit raised from \(before) to \(target) (hard limit \(describe(limit.rlim_max)))")
    }

    /// `fs.nr_open`, the most descriptors one process may have (1048576 when unreadable).
    private static func kernelMaximum() -> rlim_t {
        let fallback: rlim_t = 1 << 20
        guard let bytes = try? ProcessEnvironment.readFileIfExists("/proc/sys/fs/nr_open", limit: 64),
              let value = rlim_t(String(decoding: bytes, as: UTF8.self).trimmingWhitespace) else { return fallback }
        return value
    }

    private static func describe(_ value: rlim_t) -> String { value == unlimited ? "unlimited" : String(value) }
}

private extension String {
    var trimmingWhitespace: String { String(split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).first ?? "") }
}
