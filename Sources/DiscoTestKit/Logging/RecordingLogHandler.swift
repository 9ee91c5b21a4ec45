import DiscoCore
import Synchronization

// MARK: - RecordingLogHandler

/// A log backend that keeps every record in memory, for tests that wait for a log line.
public final class RecordingLogHandler: LogHandler {
    private let storage = Mutex<[LogRecord]>([])

    public init() {}

    public func log(_ record: LogRecord) {
        storage.withLock { $0.append(record) }
    }

    /// Every record so far, in order.
    public var records: [LogRecord] { storage.withLock { $0 } }

    /// Records at `level` whose message contains `text`.
    public func records(at level: Logger.Level, containing text: String) -> [LogRecord] {
        records.filter { $0.level == level && $0.message.contains(text) }
    }
}
