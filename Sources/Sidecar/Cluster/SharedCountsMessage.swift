import DiscoCore
import RateLimitCore

// MARK: - SharedCountsMessage

/// The body one sidecar posts to the others' `/.sidecar/ratelimit/counts` every exchange
/// interval: the requests it charged to each shared zone, by key, since the last exchange.
/// Zones go by name (each sidecar maps them to its own zones; names it does not share are
/// skipped), keys as hex (they may be binary addresses).
///
///     {"counts": [{"zone": "per_client", "key": "7f000001", "requests": 12}]}
public enum SharedCountsMessage {
    /// Most entries one message may carry.
    public static let maximumEntries = 1 << 20
    /// Largest body accepted (bytes): room for the core's 65,536 keys per interval in a few
    /// zones, with long keys.
    public static let maximumBytes = 16 << 20

    /// The body for `counts`, with `zones` naming each zone index.
    public static func encode(_ counts: RateLimitCounts, zoneNames: [String]) -> [UInt8] {
        encode(counts, zoneNames: zoneNames, maximumBytes: Int.max).first ?? Array(#"{"counts":[]}"#.utf8)
    }

    /// The bodies for `counts`, each of at most `maximumBytes` (receivers refuse larger ones)
    /// and ``maximumEntries``: long keys can make one interval's counts larger than one body may
    /// be. Empty when there are no counts.
    public static func encode(_ counts: RateLimitCounts, zoneNames: [String], maximumBytes: Int) -> [[UInt8]] {
        let head = Array(#"{"counts":["#.utf8)
        let tail = Array("]}".utf8)
        var bodies: [[UInt8]] = []
        var body = head
        var entries = 0
        for entry in counts.entries where zoneNames.indices.contains(entry.zone) {
            var object = JSONObject()
            object.append(key: "zone", value: .string(zoneNames[entry.zone]))
            object.append(key: "key", value: .string(Hex.encode(entry.key.bytes)))
            object.append(key: "requests", value: .number(JSONNumber(entry.requests)))
            let bytes = JSONValue.object(object).encodedBytes()
            if entries > 0, body.count + 1 + bytes.count + tail.count > maximumBytes || entries == maximumEntries {
                bodies.append(body + tail)
                body = head
                entries = 0
            }
            if entries > 0 { body.append(UInt8(ascii: ",")) }
            body += bytes
            entries += 1
        }
        if entries > 0 { bodies.append(body + tail) }
        return bodies
    }

    /// The counts in `body` for this sidecar's zones: entries whose zone is not one of
    /// `sharedZones` (by name → index) are left out and counted in `skipped`. The error names
    /// the entry and field that are wrong.
    public static func decode(_ body: [UInt8], sharedZones: [String: Int]) -> Result<(counts: RateLimitCounts, skipped: Int), SidecarSyntaxError> {
        let example = #"expected {"counts": [{"zone": "NAME", "key": "HEX", "requests": N}]}"#
        guard body.count <= maximumBytes else { return .failure(SidecarSyntaxError("the counts are larger than \(maximumBytes) bytes")) }
        guard let json = try? JSONValue.parse(body, maxDepth: 8), case .object(let root) = json else {
            return .failure(SidecarSyntaxError("the counts are not a JSON object; \(example)"))
        }
        for member in root where member.key != "counts" {
            return .failure(SidecarSyntaxError("unknown field \(member.key.debugDescription); \(example)"))
        }
        guard case .array(let elements)? = json["counts"] else { return .failure(SidecarSyntaxError("no \"counts\" array; \(example)")) }
        guard elements.count <= maximumEntries else { return .failure(SidecarSyntaxError("more than \(maximumEntries) counts in one message")) }
        var entries: [RateLimitCounts.Entry] = []
        var skipped = 0
        for (index, element) in elements.enumerated() {
            guard case .object(let object) = element, object.count == 3, let zone = element["zone"]?.stringValue,
                  let keyText = element["key"]?.stringValue, let requests = element["requests"]?.numberValue?.intValue else {
                return .failure(SidecarSyntaxError("counts[\(index)]: \(example)"))
            }
            // Any key a zone counts (a header's value may be several KiB); the body's size bounds memory.
            guard let key = Hex.decode(keyText), key.count <= RateLimitKey.maximumLength else {
                return .failure(SidecarSyntaxError("counts[\(index)].key: expected the key's bytes as hex (at most \(RateLimitKey.maximumLength) bytes)"))
            }
            guard requests >= 1, requests <= 1 << 40 else {
                return .failure(SidecarSyntaxError("counts[\(index)].requests: expected a whole number from 1 to \(1 << 40)"))
            }
            guard let zoneIndex = sharedZones[zone] else {
                skipped += 1
                continue
            }
            entries.append(RateLimitCounts.Entry(zone: zoneIndex, key: RateLimitKey(key), requests: requests))
        }
        return .success((RateLimitCounts(entries: entries), skipped))
    }
}
