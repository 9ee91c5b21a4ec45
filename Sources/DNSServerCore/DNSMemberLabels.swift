import DiscoCore

// MARK: - Member IDs as DNS labels

/// How a member's ID becomes the label of `<label>.node.<domain>` and of its SRV targets.
///
/// Node IDs may hold any printable characters (up to 256 bytes); DNS labels here are host name
/// labels. The rule, applied to the members in ID order (byte order) so that it is the same on
/// every node:
///
/// 1. An ID that is a host name label (letters, digits, `-`; 1–63 bytes; no `-` first or last)
///    is used in lower case: `disco-0` → `disco-0`, `Node1` → `node1`, `1` → `1`.
/// 2. Any other ID is mapped: lower case, every run of other characters becomes one `-`, ends
///    trimmed, at most 50 bytes kept (`id` if nothing is left), then `-` and 8 hex digits of the
///    ID's FNV-1a hash: `node_1` → `node-1-` followed by its hash, `10.0.0.1:4002` → `10-0-0-1-4002-` and
///    its hash.
/// 3. A label already taken (IDs that differ only in case: the first in byte order keeps the plain
///    label) falls back to the mapped form; if that is taken too, the member has no name and is
///    reported as an omission.
public enum DNSMemberLabels {
    /// Most bytes of the ID kept before the hash in a mapped label (50 + 1 + 8 = 59 ≤ 63).
    static let mappedPrefixLength = 50

    /// The label rule 1 gives, or nil when the ID is not a host name label.
    public static func plainLabel(for id: NodeID) -> String? {
        let bytes = Array(id.rawValue.utf8)
        guard DNSZoneSettings.isHostnameLabel(bytes) else { return nil }
        return String(decoding: bytes.map(DNSWireCase.lower), as: UTF8.self)
    }

    /// The label rule 2 gives.
    public static func mappedLabel(for id: NodeID) -> String {
        var kept: [UInt8] = []
        var pendingHyphen = false
        for byte in id.rawValue.utf8 {
            let lower = DNSWireCase.lower(byte)
            if (lower >= 0x61 && lower <= 0x7A) || (lower >= 0x30 && lower <= 0x39) {
                if pendingHyphen, !kept.isEmpty { kept.append(UInt8(ascii: "-")) }
                pendingHyphen = false
                kept.append(lower)
            } else {
                pendingHyphen = true
            }
        }
        var prefix = kept.prefix(mappedPrefixLength)
        while prefix.last == UInt8(ascii: "-") { prefix.removeLast() }
        let head = prefix.isEmpty ? "id" : String(decoding: prefix, as: UTF8.self)
        let hash = fnv1a(id.rawValue.utf8)
        let hex = String(hash, radix: 16)
        return head + "-" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Labels for `ids`, decided together by the rules above, and the IDs left without one.
    public static func assign(_ ids: [NodeID]) -> (labels: [NodeID: String], unnamed: [DNSZoneOmission]) {
        var labels: [NodeID: String] = [:]
        var owners: [String: NodeID] = [:]
        var unnamed: [DNSZoneOmission] = []
        for id in Set(ids).sorted() {
            let candidates = [plainLabel(for: id), mappedLabel(for: id)].compactMap { $0 }
            guard let label = candidates.first(where: { owners[$0] == nil }) else {
                let holder = owners[candidates[0]].map { " (held by member \($0.rawValue.debugDescription))" } ?? ""
                unnamed.append(DNSZoneOmission(subject: .member(id), reason: "no DNS name: \(candidates.joined(separator: " and ")) are taken\(holder)"))
                continue
            }
            labels[id] = label
            owners[label] = id
        }
        return (labels, unnamed)
    }

    /// 32-bit FNV-1a: small, stable across releases and platforms (unlike `Hasher`).
    static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in bytes {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return hash
    }
}
