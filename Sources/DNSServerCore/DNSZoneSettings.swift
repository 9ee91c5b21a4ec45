// MARK: - Zone settings

/// The zone's name and timers: `-dns-domain` and `-dns-ttl`.
public struct DNSZoneSettings: Sendable, Hashable {
    /// The default `-dns-domain`.
    public static let defaultDomain = "disco."
    /// The default `-dns-ttl`, in seconds: short, so a member that dies leaves resolvers' caches
    /// soon after it leaves the answers.
    public static let defaultTTL: UInt32 = 5
    /// The largest TTL DNS allows (RFC 2181 §8).
    public static let maxTTL: UInt32 = 0x7FFF_FFFF

    /// The zone apex, in lower case (`disco`).
    public let domain: DNSName
    /// TTL of every record the zone serves, in seconds.
    public let ttl: UInt32
    /// How long resolvers may cache NXDOMAIN and NODATA: the SOA's MINIMUM (RFC 2308).
    public let negativeTTL: UInt32
    /// SOA refresh, retry and expire (there are no secondaries; the values are the usual ones).
    public var refresh: UInt32 = 3600
    public var retry: UInt32 = 600
    public var expire: UInt32 = 86_400

    /// Settings for `domain` with `ttl` seconds; the negative TTL is the TTL unless given.
    /// The domain is kept in lower case.
    public init(domain: DNSName, ttl: UInt32 = DNSZoneSettings.defaultTTL, negativeTTL: UInt32? = nil) throws(DNSSettingsError) {
        guard !domain.isRoot else {
            throw DNSSettingsError(flag: "-dns-domain", "the root \".\" cannot be the zone; give a domain such as disco. or disco.example.com.")
        }
        for label in domain.labels where !Self.isHostnameLabel(label) {
            throw DNSSettingsError(
                flag: "-dns-domain",
                "label \(String(decoding: label, as: UTF8.self).debugDescription) of \(domain) is not a host name label (letters, digits and '-', not first or last)")
        }
        for (value, flag) in [(ttl, "-dns-ttl"), (negativeTTL ?? ttl, "negative TTL")] where value > Self.maxTTL {
            throw DNSSettingsError(flag: flag, "\(value)s is beyond the largest TTL DNS allows, \(Self.maxTTL)s")
        }
        self.domain = DNSName.lowercased(domain)
        self.ttl = ttl
        self.negativeTTL = negativeTTL ?? ttl
    }

    /// Settings from the flags' text: `-dns-domain` (`disco.`, `disco.example.com`) and `-dns-ttl`
    /// (whole seconds, as a duration: `5s`, `1m`, `0`).
    public init(domain text: String, ttl: Duration) throws(DNSSettingsError) {
        let domain: DNSName
        do {
            domain = try DNSName(parsing: text)
        } catch {
            throw DNSSettingsError(flag: "-dns-domain", "\(text.debugDescription) is not a domain name: \(error.detail)")
        }
        try self.init(domain: domain, ttl: try Self.seconds(ttl, flag: "-dns-ttl"))
    }

    /// A duration as whole seconds of TTL; fractions and negative values are refused.
    public static func seconds(_ duration: Duration, flag: String) throws(DNSSettingsError) -> UInt32 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else {
            throw DNSSettingsError(flag: flag, "\(duration) is negative; a TTL is 0 or more whole seconds")
        }
        guard attoseconds == 0 else {
            throw DNSSettingsError(flag: flag, "\(duration) is not a whole number of seconds; DNS TTLs are whole seconds (5s, 1m)")
        }
        guard seconds <= Int64(maxTTL) else {
            throw DNSSettingsError(flag: flag, "\(duration) is beyond the largest TTL DNS allows, \(maxTTL)s")
        }
        return UInt32(seconds)
    }

    /// RFC 1123 host name label: letters, digits and hyphens, 1–63 bytes, no hyphen first or last.
    public static func isHostnameLabel(_ label: some Collection<UInt8>) -> Bool {
        guard let first = label.first, let last = label.reversed().first, label.count <= DNSName.maxLabelLength else { return false }
        guard first != UInt8(ascii: "-"), last != UInt8(ascii: "-") else { return false }
        return label.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-")
        }
    }
}

// MARK: - Errors

/// A DNS server setting that cannot work: names the flag, what is wrong and what would be right.
public struct DNSSettingsError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The flag (or setting) at fault, such as `-dns-domain`.
    public let flag: String
    public let reason: String

    public init(flag: String, _ reason: String) {
        self.flag = flag
        self.reason = reason
    }

    public var description: String { "\(flag): \(reason)" }
}

// MARK: - Lower case

extension DNSName {
    /// `name` with ASCII letters in lower case (DNS names compare without case; the zone keeps
    /// one spelling).
    static func lowercased(_ name: DNSName) -> DNSName {
        // Folding case keeps every length, so the limits the name already met still hold.
        (try? DNSName(labels: name.labels.map { label in label.map(DNSWireCase.lower) })) ?? name
    }
}

/// ASCII case folding of wire bytes. Label length bytes (at most 63) are never letters, so a whole
/// wire-form name can be folded byte by byte.
enum DNSWireCase {
    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 { (byte &- 0x41) < 26 ? byte | 0x20 : byte }
}
