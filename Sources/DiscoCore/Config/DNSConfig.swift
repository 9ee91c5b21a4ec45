// MARK: - dns mode

/// disco-config for `-disco-mode dns`: `{"name": "...", "port": 4001, "nameserver": "host:port"}`.
///
/// A/AAAA records of `name` give the peers' hosts; every peer is assumed to serve its HTTP API
/// on `port`.
public struct DNSConfig: Sendable, Hashable {
    public static let fields = ["name", "port", "nameserver"]

    /// The DNS name to resolve (required).
    public var name: String
    /// Port of every peer's HTTP API; `nil` means this node's own `-http-addr` port.
    public var port: UInt16?
    /// The DNS server to ask; `nil` means the system resolver (`/etc/resolv.conf`).
    public var nameserver: PeerAddress?

    public init(name: String, port: UInt16? = nil, nameserver: PeerAddress? = nil) {
        self.name = name
        self.port = port
        self.nameserver = nameserver
    }

    /// Decodes and validates the JSON object.
    public init(json: JSONValue) throws(ConfigError) {
        let reader = try JSONObjectReader(json, context: "disco-config for dns", allowedFields: Self.fields)
        name = try DiscoConfigFields.dnsName(reader, "name", example: #"{"name":"disco.local"}"#)
        port = try reader.int("port", in: 1...65535).map { UInt16($0) }
        nameserver = try DiscoConfigFields.nameserver(reader)
    }
}

// MARK: - dns-srv mode

/// disco-config for `-disco-mode dns-srv`:
/// `{"name": "...", "service": "...", "protocol": "tcp", "nameserver": "host:port"}`.
///
/// SRV records at `_<service>._<protocol>.<name>` give each peer's host and HTTP API port.
public struct DNSSRVConfig: Sendable, Hashable {
    public static let fields = ["name", "service", "protocol", "nameserver"]

    /// The SRV protocol label.
    public enum SRVProtocol: String, Sendable, Hashable, CaseIterable {
        case tcp, udp
    }

    /// The domain (required).
    public var name: String
    /// The service label without underscore (required).
    public var service: String
    /// `tcp` (default) or `udp`.
    public var `protocol`: SRVProtocol
    /// The DNS server to ask; `nil` means the system resolver.
    public var nameserver: PeerAddress?

    public init(name: String, service: String, protocol: SRVProtocol = .tcp, nameserver: PeerAddress? = nil) {
        self.name = name
        self.service = service
        self.protocol = `protocol`
        self.nameserver = nameserver
    }

    /// The name queried for SRV records: `_<service>._<protocol>.<name>`.
    public var queryName: String { "_\(service)._\(`protocol`.rawValue).\(name)" }

    /// Decodes and validates the JSON object.
    public init(json: JSONValue) throws(ConfigError) {
        let reader = try JSONObjectReader(json, context: "disco-config for dns-srv", allowedFields: Self.fields)
        let example = #"{"name":"disco.local","service":"disco-http"}"#
        name = try DiscoConfigFields.dnsName(reader, "name", example: example)
        let service = try reader.required("service", try reader.nonEmptyString("service"), example: example)
        var label = Substring(service)
        if label.hasPrefix("_") { label = label.dropFirst() }
        guard !label.isEmpty, label.utf8.allSatisfy({ DiscoConfigFields.isLabelByte($0) && $0 != UInt8(ascii: ".") }) else {
            throw reader.error("service", "expected a service label such as \"disco-http\" (letters, digits, '-', '_'), got \(JSONValue.string(service).errorDescription)")
        }
        self.service = String(label)
        if let text = try reader.string("protocol") {
            guard let parsed = SRVProtocol(rawValue: text.lowercased()) else {
                throw reader.error("protocol", "expected \"tcp\" or \"udp\", got \(JSONValue.string(text).errorDescription)")
            }
            self.protocol = parsed
        } else {
            self.protocol = .tcp
        }
        nameserver = try DiscoConfigFields.nameserver(reader)
    }
}

// MARK: - Shared field rules

enum DiscoConfigFields {
    static func isLabelByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    /// A required DNS name: letters, digits, `-`, `_`, dots; at most 253 characters; no empty labels.
    static func dnsName(_ reader: JSONObjectReader, _ key: String, example: String) throws(ConfigError) -> String {
        let name = try reader.required(key, try reader.nonEmptyString(key), example: example)
        var trimmed = Substring(name)
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        let valid = !trimmed.isEmpty && trimmed.utf8.count <= 253 && trimmed.utf8.allSatisfy(isLabelByte)
            && !trimmed.split(separator: ".", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0.count > 63 })
        guard valid else {
            throw reader.error(key, "expected a DNS name such as \"disco.local\" (letters, digits, '-', '_', dots), got \(JSONValue.string(name).errorDescription)")
        }
        return name
    }

    /// Optional `nameserver`, `host:port` (port 53 when omitted), no URL scheme.
    static func nameserver(_ reader: JSONObjectReader) throws(ConfigError) -> PeerAddress? {
        guard let text = try reader.string("nameserver") else { return nil }
        let address: PeerAddress
        do throws(PeerAddressError) {
            address = try PeerAddress(parsing: text, defaultPort: 53)
        } catch {
            throw reader.error("nameserver", "\(error)")
        }
        guard address.scheme == nil else {
            throw reader.error("nameserver", "expected host:port such as \"127.0.0.1:53\", without a URL scheme")
        }
        return address
    }
}
