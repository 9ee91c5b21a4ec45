#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import Synchronization

// MARK: - The Date header

/// The current time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), formatted at most once
/// per second and shared by all loops.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, line: [UInt8])>((-1, []))

    /// `Date: <IMF-fixdate>\r\n` for now.
    static func headerLine() -> [UInt8] {
        let now = time(nil)
        return cache.withLock { cached in
            if cached.second != now {
                cached = (now, Array("Date: \(format(now))\r\n".utf8))
            }
            return cached.line
        }
    }

    static func format(_ seconds: Int) -> String {
        var value = time_t(seconds)
        var parts = tm()
        gmtime_r(&value, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
