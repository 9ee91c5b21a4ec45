import DiscoCore

// MARK: - IdempotencyWindow

/// The recent `Idempotency-Key`s of `POST /events`, each with what its first append did, as
/// part of the replicated state: a retry with a key still in the window gets the first append's
/// `seq` and `index` back instead of appending again, whichever node it reaches and whoever leads.
///
/// Bounded two ways, both deterministic (the state machine reads no clock): at most ``maxKeys``
/// keys (the oldest go first), and keys recorded more than ``maxAgeMillis`` before the newest
/// keyed append's time (the proposing leader's wall clock, carried in the command) expire.
public struct IdempotencyWindow: Hashable, Sendable {
    /// One key and the append it made.
    public struct Record: Hashable, Sendable {
        public var key: String
        public var seq: UInt64
        public var index: UInt64
        /// The proposing leader's wall clock when the first append was proposed.
        public var timeMillis: Int64

        public init(key: String, seq: UInt64, index: UInt64, timeMillis: Int64) {
            self.key = key
            self.seq = seq
            self.index = index
            self.timeMillis = timeMillis
        }
    }

    /// Most keys remembered.
    public static let maxKeys = 10_000
    /// How long a key is remembered, by the leaders' clocks: one hour.
    public static let maxAgeMillis: Int64 = 3_600_000
    /// Longest key accepted, in bytes.
    public static let maxKeyBytes = 128

    /// The records, oldest first.
    public private(set) var records: [Record] = []
    private var positions: [String: Int] = [:]
    /// Records before this position are dropped (compacted away lazily).
    private var start = 0

    public init() {}

    init(records: [Record]) {
        for record in records { append(record) }
    }

    public var count: Int { records.count - start }

    /// The live records, oldest first.
    public var live: ArraySlice<Record> { records[start...] }

    /// The first append made with `key`, if it is still in the window.
    public func record(for key: String) -> Record? {
        positions[key].map { records[$0] }
    }

    /// Drops keys older than ``maxAgeMillis`` before `now` (a leader's time), and the oldest
    /// until there is room for one more key within ``maxKeys``.
    mutating func expire(now: Int64) {
        let (cutoff, overflow) = now.subtractingReportingOverflow(Self.maxAgeMillis)
        while start < records.count, count >= Self.maxKeys || (!overflow && records[start].timeMillis < cutoff) {
            positions[records[start].key] = nil
            start += 1
        }
        if start > 1024, start * 2 > records.count { compact() }
    }

    /// Records a new key (the caller checked it is not in the window).
    mutating func append(_ record: Record) {
        positions[record.key] = records.count
        records.append(record)
    }

    private mutating func compact() {
        records.removeFirst(start)
        start = 0
        positions = Dictionary(uniqueKeysWithValues: records.enumerated().map { ($0.element.key, $0.offset) })
    }

    public static func == (lhs: IdempotencyWindow, rhs: IdempotencyWindow) -> Bool { lhs.live == rhs.live }

    public func hash(into hasher: inout Hasher) {
        for record in live { hasher.combine(record) }
    }

    /// Nil when `key` is an acceptable idempotency key (1 to 128 visible ASCII characters); else
    /// what is wrong with it.
    public static func problem(with key: String) -> String? {
        let bytes = Array(key.utf8)
        guard !bytes.isEmpty, bytes.count <= maxKeyBytes else {
            return "must be 1 to \(maxKeyBytes) characters long, found \(bytes.count)"
        }
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return "must be visible ASCII characters (no spaces or control characters), such as a UUID"
        }
        return nil
    }
}
