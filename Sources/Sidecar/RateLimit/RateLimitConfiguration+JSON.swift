import DiscoCore
import RateLimitCore

// MARK: - JSON form

extension RateLimitConfiguration {
    static let zoneFields = ["name", "key", "rate", "size", "shared"]
    static let limitFields = ["zone", "burst", "nodelay", "delay"]

    /// Decodes a JSON object that holds only the rate-limit fields (``fields``).
    public init(json: JSONValue, context: String = "rate-limit config") throws(ConfigError) {
        try self.init(reader: JSONObjectReader(json, context: context, allowedFields: Self.fields))
    }

    /// Reads the rate-limit fields (``fields``) of an object whose other fields the caller reads,
    /// such as `-proxy-config`. Every error names the field (`limit_req[1].zone`) and what
    /// would be valid.
    public init(reader: JSONObjectReader) throws(ConfigError) {
        var zones: [LimitReqZone] = []
        var shared: Set<Int> = []
        for (position, element) in try Self.array(reader, "limit_req_zone").enumerated() {
            let zone = try JSONObjectReader(element, context: reader.context, allowedFields: Self.zoneFields,
                                            path: reader.path + "limit_req_zone[\(position)].")
            let name = try Self.parsed(zone, "name", LimitReqSyntax.zoneName,
                                       required: #"{"name":"per_client","rate":"10r/s"}"#)
            if zones.contains(where: { $0.name == name }) {
                throw zone.error("name", "zone \(name.debugDescription) is defined twice; give each zone its own name")
            }
            let rate = try Self.parsed(zone, "rate", LimitReqSyntax.rate, required: #""rate":"10r/s""#)
            let key = try zone.string("key").map { text throws(ConfigError) in try Self.check(zone, "key", LimitReqSyntax.key(text)) }
            if try zone.bool("shared") ?? false { shared.insert(zones.count) }
            zones.append(LimitReqZone(name: name, key: key ?? .address, rate: rate, size: try Self.size(zone) ?? LimitReqZone.defaultSize))
        }

        var limits: [LimitReq] = []
        for (position, element) in try Self.array(reader, "limit_req").enumerated() {
            let limit = try JSONObjectReader(element, context: reader.context, allowedFields: Self.limitFields,
                                             path: reader.path + "limit_req[\(position)].")
            let zoneName = try limit.required("zone", try limit.string("zone"), example: #"{"zone":"per_client","burst":5}"#)
            guard let zone = zones.firstIndex(where: { $0.name == zoneName }) else {
                let names = zones.map { $0.name.debugDescription }.joined(separator: ", ")
                throw limit.error("zone", "no limit_req_zone is named \(zoneName.debugDescription)"
                    + (zones.isEmpty ? "; define it in limit_req_zone" : "; defined zones: \(names)"))
            }
            if limits.contains(where: { $0.zone == zone }) {
                throw limit.error("zone", "zone \(zoneName.debugDescription) is limited twice; one limit per zone (nginx refuses duplicates too)")
            }
            let burst = try limit.int("burst", in: 1...LimitReq.maximumBurst)
            let delayAfter = try limit.int("delay", in: 1...LimitReq.maximumBurst)
            let nodelay = try limit.bool("nodelay") ?? false
            if nodelay, delayAfter != nil {
                throw limit.error("delay", "cannot be combined with \"nodelay\": true; nodelay forwards the whole burst at once, delay N only the first N requests of it")
            }
            let delay: LimitReq.Delay = nodelay ? .nodelay : delayAfter.map { .after($0) } ?? .paced
            limits.append(LimitReq(zone: zone, burst: burst ?? 0, delay: delay))
        }

        let status = try reader.int("limit_req_status", in: LimitReq.statusRange) ?? LimitReq.defaultStatus
        for index in limits.indices { limits[index].status = status }
        let dryRun = try reader.bool("limit_req_dry_run") ?? false
        let interval = try reader.duration("limit_req_share_interval")
        if let interval, !Self.shareIntervals.contains(interval) {
            throw reader.error("limit_req_share_interval", "expected a duration from 10ms to 10s, e.g. \"100ms\"")
        }
        if interval != nil, shared.isEmpty {
            throw reader.error("limit_req_share_interval", "no zone is shared; add \"shared\": true to a limit_req_zone, or leave the interval out")
        }
        self.init(zones: zones, policy: LimitReqPolicy(limits: limits, dryRun: dryRun), sharedZones: shared, shareInterval: interval)
    }

    /// The exchange intervals a shared zone may use.
    public static let shareIntervals = Duration.milliseconds(10)...Duration.seconds(10)

    // MARK: Field helpers

    private static func array(_ reader: JSONObjectReader, _ key: String) throws(ConfigError) -> [JSONValue] {
        guard let value = reader.value(key) else { return [] }
        guard case .array(let elements) = value else {
            throw reader.error(key, "expected an array of objects, got \(value.errorDescription)")
        }
        return elements
    }

    private static func check<Value>(_ reader: JSONObjectReader, _ key: String, _ result: Result<Value, LimitReqSyntax.Reason>) throws(ConfigError) -> Value {
        switch result {
        case .success(let value): return value
        case .failure(let reason): throw reader.error(key, reason.text)
        }
    }

    private static func parsed<Value>(
        _ reader: JSONObjectReader, _ key: String, _ parse: (String) -> Result<Value, LimitReqSyntax.Reason>, required example: String
    ) throws(ConfigError) -> Value {
        let text = try reader.required(key, try reader.string(key), example: example)
        return try check(reader, key, parse(text))
    }

    /// `"size": "10m"` (nginx's syntax) or a number of bytes.
    private static func size(_ reader: JSONObjectReader) throws(ConfigError) -> Int? {
        switch reader.value("size") {
        case nil: return nil
        case .string(let text)?: return try check(reader, "size", LimitReqSyntax.size(text))
        case .number(let number)?:
            guard let bytes = number.intValue else { throw reader.error("size", "expected a whole number of bytes or a size such as \"10m\"") }
            return try check(reader, "size", LimitReqSyntax.size(String(bytes)))
        case let other?:
            throw reader.error("size", "expected a size such as \"10m\" or a number of bytes, got \(other.errorDescription)")
        }
    }
}
