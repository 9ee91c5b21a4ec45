import Synchronization

// MARK: - Log format

/// The output format chosen with `-log-format`.
public enum LogFormat: String, Sendable, Hashable, CaseIterable {
    /// `ts=... level=info logger=raft msg="..." key=value`
    case text
    /// One JSON object per line.
    case json

    /// Parses a `-log-format` value.
    public init(parsing text: String) throws(FlagValueError) {
        guard let format = LogFormat(rawValue: text.lowercased()) else {
            throw FlagValueError("expected text or json")
        }
        self = format
    }

    /// The backend for this format, writing to `sink` with timestamps from `clock`.
    /// (`handler()` in DiscoSystem writes to standard error with the system clock.)
    public func handler(sink: any LogSink, clock: LogClock) -> any LogHandler {
        switch self {
        case .text: LogfmtHandler(sink: sink, clock: clock)
        case .json: JSONLinesHandler(sink: sink, clock: clock)
        }
    }
}

// MARK: - Sinks

/// Where formatted lines go. Each call receives one complete line including its newline.
/// (`StandardErrorSink`, in DiscoSystem, writes to standard error.)
public protocol LogSink: Sendable {
    func write(_ line: [UInt8])
}

/// Collects lines in memory, for tests.
public final class MemoryLogSink: LogSink {
    private let storage = Mutex<[String]>([])

    public init() {}

    public func write(_ line: [UInt8]) {
        let text = String(decoding: line, as: UTF8.self)
        storage.withLock { $0.append(text) }
    }

    /// The lines written so far, each with its trailing newline.
    public var lines: [String] { storage.withLock { $0 } }
}

// MARK: - Clock

/// The wall clock used for `ts=`, injectable for tests (`LogClock.system`, in DiscoSystem, reads
/// `CLOCK_REALTIME`).
public struct LogClock: Sendable {
    /// Nanoseconds since the Unix epoch.
    public let now: @Sendable () -> Int64

    public init(now: @escaping @Sendable () -> Int64) { self.now = now }

    /// RFC 3339 UTC with milliseconds: `2026-11-21T00:52:03.123Z`.
    public static func rfc3339(nanoseconds: Int64) -> String {
        let milliseconds = nanoseconds.dividedRoundingDown(by: 1_000_000)
        let seconds = milliseconds.dividedRoundingDown(by: 1000)
        let days = seconds.dividedRoundingDown(by: 86_400)
        let secondOfDay = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
        let shifted = days + 719_468
        let era = shifted.dividedRoundingDown(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay % 3600 / 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(milliseconds - seconds * 1000, 3))Z"
    }
}

extension Int64 {
    func dividedRoundingDown(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
