import DiscoCore
@preconcurrency import Glibc

// MARK: - StandardErrorSink

/// Writes lines to standard error with one `write(2)` each, so concurrent lines do not interleave.
public struct StandardErrorSink: LogSink {
    public init() {}

    public func write(_ line: [UInt8]) {
        line.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

// MARK: - System clock

extension LogClock {
    /// `CLOCK_REALTIME`.
    public static let system = LogClock {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}

// MARK: - Handlers on standard error

extension LogFormat {
    /// The backend for this format, writing to standard error with the system clock.
    public func handler() -> any LogHandler {
        handler(sink: StandardErrorSink(), clock: .system)
    }
}

extension LogfmtHandler {
    /// Logfmt lines to `sink` (standard error by default), stamped with the system clock.
    public init(sink: any LogSink = StandardErrorSink()) {
        self.init(sink: sink, clock: .system)
    }
}

extension JSONLinesHandler {
    /// JSON lines to `sink` (standard error by default), stamped with the system clock.
    public init(sink: any LogSink = StandardErrorSink()) {
        self.init(sink: sink, clock: .system)
    }
}
