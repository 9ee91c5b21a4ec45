// MARK: - Go durations

/// Why a duration string was rejected.
public struct DurationParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text that failed to parse.
    public let input: String
    /// What is wrong with it.
    public let reason: String

    public var description: String {
        "invalid duration \(input.debugDescription): \(reason); expected a duration such as 300ms, 1.5s or 2m"
    }
}

/// Go's `time.Duration` text format: a signed sequence of decimal numbers, each with an optional
/// fraction and a unit suffix (`ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`), e.g. `300ms`, `-1.5h`,
/// `2h45m`. A bare `0` is allowed. Values must fit in signed 64-bit nanoseconds.
public enum GoDuration {
    /// The largest duration Go can represent, `2562047h47m16.854775807s`.
    public static let maximumNanoseconds = UInt64(Int64.max)

    static let units: [(name: [UInt8], nanoseconds: UInt64)] = [
        (Array("ns".utf8), 1),
        (Array("us".utf8), 1_000),
        (Array("µs".utf8), 1_000),  // U+00B5 micro sign
        (Array("μs".utf8), 1_000),  // U+03BC Greek small letter mu
        (Array("ms".utf8), 1_000_000),
        (Array("s".utf8), 1_000_000_000),
        (Array("m".utf8), 60_000_000_000),
        (Array("h".utf8), 3_600_000_000_000),
    ]

    /// Parses a Go duration string.
    public static func parse(_ text: String) throws(DurationParseError) -> Duration {
        .nanoseconds(try parseNanoseconds(text))
    }

    /// Parses a Go duration string to signed nanoseconds.
    public static func parseNanoseconds(_ text: String) throws(DurationParseError) -> Int64 {
        func fail(_ reason: String) -> DurationParseError { DurationParseError(input: text, reason: reason) }
        let bytes = Array(text.utf8)
        var index = 0
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            index = 1
        }
        if bytes[index...].elementsEqual("0".utf8) { return 0 }
        guard index < bytes.count else { throw fail(bytes.isEmpty ? "empty" : "missing number") }
        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        let limit = UInt64(1) << 63
        var total: UInt64 = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: ".") || isDigit(bytes[index]) else {
                if total == 0 { throw fail("not a duration") }
                throw fail("expected a number at \(String(decoding: bytes[index...], as: UTF8.self).debugDescription)")
            }
            // Integer part.
            var whole: UInt64 = 0
            let wholeStart = index
            while index < bytes.count, isDigit(bytes[index]) {
                guard whole <= limit / 10 else { throw fail("out of range") }
                whole = whole * 10 + UInt64(bytes[index] - 0x30)
                guard whole <= limit else { throw fail("out of range") }
                index += 1
            }
            let hasWhole = index > wholeStart
            // Fraction part: digits beyond what fits are ignored, as in Go.
            var fraction: UInt64 = 0
            var scale: Double = 1
            var hasFraction = false
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                var overflowed = false
                while index < bytes.count, isDigit(bytes[index]) {
                    hasFraction = true
                    if !overflowed {
                        if fraction > (limit - 1) / 10 {
                            overflowed = true
                        } else {
                            fraction = fraction * 10 + UInt64(bytes[index] - 0x30)
                            scale *= 10
                        }
                    }
                    index += 1
                }
            }
            guard hasWhole || hasFraction else { throw fail("expected digits around '.'") }
            // Unit.
            let unitStart = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "."), !isDigit(bytes[index]) { index += 1 }
            let unitBytes = Array(bytes[unitStart..<index])
            guard !unitBytes.isEmpty else { throw fail("missing unit (use ns, us, ms, s, m or h)") }
            guard let unit = units.first(where: { $0.name == unitBytes })?.nanoseconds else {
                throw fail("unknown unit \(String(decoding: unitBytes, as: UTF8.self).debugDescription) (valid units: ns, us, µs, ms, s, m, h)")
            }
            guard whole <= limit / unit else { throw fail("out of range") }
            var value = whole * unit
            if fraction > 0 {
                value += UInt64(Double(fraction) * (Double(unit) / scale))
                guard value <= limit else { throw fail("out of range") }
            }
            total += value
            guard total <= limit else { throw fail("out of range") }
        }
        if negative { return total == limit ? Int64.min : -Int64(total) }
        guard total <= maximumNanoseconds else { throw fail("out of range") }
        return Int64(total)
    }

    // MARK: Formatting

    /// Formats like Go's `Duration.String`: `0s`, `300ms`, `1.5µs`, `2m0s`, `1h2m3.5s`.
    /// Durations beyond Go's range are clamped to it.
    public static func format(_ duration: Duration) -> String {
        format(nanoseconds: nanoseconds(of: duration))
    }

    /// Signed nanoseconds of `duration`, clamped to the 64-bit range.
    public static func nanoseconds(of duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? Int64.min : Int64.max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        guard !overflow2 else { return seconds < 0 ? Int64.min : Int64.max }
        return sum
    }

    /// Formats signed nanoseconds like Go's `Duration.String`.
    public static func format(nanoseconds: Int64) -> String {
        let negative = nanoseconds < 0
        let magnitude = nanoseconds.magnitude
        guard magnitude != 0 else { return "0s" }
        var text: String
        if magnitude < 1_000_000_000 {
            switch magnitude {
            case ..<1_000: text = "\(magnitude)ns"
            case ..<1_000_000: text = fixed(magnitude, decimals: 3) + "µs"
            default: text = fixed(magnitude, decimals: 6) + "ms"
            }
        } else {
            let seconds = fixed(magnitude % 60_000_000_000, decimals: 9) + "s"
            let minutes = magnitude / 60_000_000_000
            if minutes == 0 {
                text = seconds
            } else if minutes < 60 {
                text = "\(minutes)m" + seconds
            } else {
                text = "\(minutes / 60)h\(minutes % 60)m" + seconds
            }
        }
        if negative { text = "-" + text }
        return text
    }

    /// `value / 10^decimals` with trailing fractional zeros (and a bare '.') removed.
    static func fixed(_ value: UInt64, decimals: Int) -> String {
        var divisor: UInt64 = 1
        for _ in 0..<decimals { divisor *= 10 }
        let whole = value / divisor
        var fraction = String(value % divisor)
        guard fraction != "0" else { return "\(whole)" }
        fraction = String(repeating: "0", count: decimals - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(whole).\(fraction)"
    }
}
