import DiscoCore

// MARK: - ClusterEvent

/// One event of the replicated event log (`POST /events`, `GET /events`).
public struct ClusterEvent: Hashable, Sendable {
    /// Position in the event log: dense, starting at 1.
    public var seq: UInt64
    /// The Raft index of the entry that appended it.
    public var index: UInt64
    /// Wall-clock time (milliseconds since the Unix epoch) of the leader that proposed it.
    public var timeMillis: Int64
    /// The JSON value's bytes exactly as posted.
    public var data: [UInt8]

    public init(seq: UInt64, index: UInt64, timeMillis: Int64, data: [UInt8]) {
        self.seq = seq
        self.index = index
        self.timeMillis = timeMillis
        self.data = data
    }

    // MARK: JSON

    /// Appends `{"seq":…,"index":…,"time_ms":…,"data":<data>}` to `output`, with `data` embedded
    /// as posted (it was checked to be one JSON value when the event was proposed; a leading
    /// byte order mark is left out, since it is not allowed inside a document).
    public func encodeJSON(into output: inout [UInt8]) {
        output.append(contentsOf: #"{"seq":"#.utf8)
        output.append(contentsOf: String(seq).utf8)
        output.append(contentsOf: #","index":"#.utf8)
        output.append(contentsOf: String(index).utf8)
        output.append(contentsOf: #","time_ms":"#.utf8)
        output.append(contentsOf: String(timeMillis).utf8)
        output.append(contentsOf: #","data":"#.utf8)
        if data.starts(with: [0xEF, 0xBB, 0xBF]) {
            output.append(contentsOf: data.dropFirst(3))
        } else {
            output.append(contentsOf: data)
        }
        output.append(UInt8(ascii: "}"))
    }

    /// The event as a compact JSON object with `data` embedded as posted.
    public func jsonBytes() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(data.count + 64)
        encodeJSON(into: &output)
        return output
    }

    /// The event as a parsed ``JSONValue`` object (`data` parsed into a value).
    public func jsonValue() throws(JSONParseError) -> JSONValue {
        var object = JSONObject()
        object.append(key: "seq", value: .number(JSONNumber(seq)))
        object.append(key: "index", value: .number(JSONNumber(index)))
        object.append(key: "time_ms", value: .number(JSONNumber(timeMillis)))
        object.append(key: "data", value: try JSONValue.parse(data))
        return .object(object)
    }

    /// The body of `GET /events?since=N`: `{"events":[…],"first_seq":F,"last_seq":M,"next_since":S}`,
    /// where `S` is the last event's `seq` (`N` when there is none): where the next read resumes.
    public static func eventsResponseJSON(_ page: EventPage, since: UInt64) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(page.events.reduce(48) { $0 + $1.data.count + 64 })
        output.append(contentsOf: #"{"events":["#.utf8)
        for (position, event) in page.events.enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            event.encodeJSON(into: &output)
        }
        output.append(contentsOf: #"],"first_seq":"#.utf8)
        output.append(contentsOf: String(page.firstSeq).utf8)
        output.append(contentsOf: #","last_seq":"#.utf8)
        output.append(contentsOf: String(page.lastSeq).utf8)
        output.append(contentsOf: #","next_since":"#.utf8)
        output.append(contentsOf: String(page.events.last?.seq ?? since).utf8)
        output.append(UInt8(ascii: "}"))
        return output
    }
}
