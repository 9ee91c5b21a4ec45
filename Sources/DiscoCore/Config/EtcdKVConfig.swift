// MARK: - etcd-kv mode

/// disco-config for `-disco-mode etcd-kv`, with the JSON names of etcd's `clientv3.Config` (which
/// rqlite decodes directly). Durations accept a Go duration string (`"5s"`) or integer
/// nanoseconds (clientv3's encoding). Fields Disco does not use are accepted so that existing
/// rqlite configurations load. clientv3 has no JSON fields for TLS; Disco adds `ca_file`,
/// `cert_file`, `key_file` and `insecure_skip_verify` (the names of Consul's `tls_config`), used
/// with `https://` endpoints (endpoints without a scheme then default to https).
public struct EtcdKVConfig: Sendable, Hashable {
    public static let fields = ["endpoints", "auto-sync-interval", "dial-timeout", "dial-keep-alive-time",
                                "dial-keep-alive-timeout", "username", "password", "reject-old-cluster",
                                "permit-without-stream", "max-unary-retries", "backoff-wait-between",
                                "backoff-jitter-fraction", "MaxCallSendMsgSize", "MaxCallRecvMsgSize",
                                "ca_file", "cert_file", "key_file", "insecure_skip_verify"]

    /// The etcd client default when `endpoints` is absent.
    public static let defaultEndpoint = PeerAddress(host: "localhost", port: 2379)

    /// etcd servers (`host:port`, `http://host:port` or `https://host:port`); at least one.
    public var endpoints: [PeerAddress]
    public var username: String?
    public var password: String?
    /// Time to establish a connection; `nil` for the client default.
    public var dialTimeout: Duration?
    public var autoSyncInterval: Duration?
    public var dialKeepAliveTime: Duration?
    public var dialKeepAliveTimeout: Duration?
    public var backoffWaitBetween: Duration?
    public var backoffJitterFraction: Double?
    public var maxUnaryRetries: Int?
    public var maxCallSendMessageSize: Int?
    public var maxCallReceiveMessageSize: Int?
    public var rejectOldCluster: Bool = false
    public var permitWithoutStream: Bool = false
    /// TLS to `https://` endpoints, when any TLS field is given.
    public var tls: ClientTLSSettings?

    /// The etcd client defaults: `localhost:2379`.
    public init(endpoints: [PeerAddress] = [EtcdKVConfig.defaultEndpoint]) {
        self.endpoints = endpoints
    }

    /// Decodes and validates the JSON object.
    public init(json: JSONValue) throws(ConfigError) {
        let reader = try JSONObjectReader(json, context: "disco-config for etcd-kv", allowedFields: Self.fields)
        if let texts = try reader.stringArray("endpoints") {
            guard !texts.isEmpty else {
                throw reader.error("endpoints", "expected at least one endpoint, e.g. [\"etcd.local:2379\"]")
            }
            var parsed: [PeerAddress] = []
            for (position, text) in texts.enumerated() {
                do throws(PeerAddressError) {
                    parsed.append(try PeerAddress(parsing: text))
                } catch {
                    throw reader.error("endpoints", "element \(position): \(error)")
                }
            }
            endpoints = parsed
        } else {
            endpoints = [Self.defaultEndpoint]
        }
        username = try reader.string("username")
        password = try reader.string("password")
        if password?.isEmpty == false, username?.isEmpty != false {
            throw reader.error("username", "a password needs a username")
        }
        dialTimeout = try Self.nonNegative(reader, "dial-timeout")
        if let dialTimeout, dialTimeout > .zero, dialTimeout < .milliseconds(1) {
            let shown = GoDuration.format(dialTimeout)
            throw reader.error("dial-timeout", "\(shown) is too short to dial anything (integers are nanoseconds); write a duration string such as \"5s\"")
        }
        autoSyncInterval = try Self.nonNegative(reader, "auto-sync-interval")
        dialKeepAliveTime = try Self.nonNegative(reader, "dial-keep-alive-time")
        dialKeepAliveTimeout = try Self.nonNegative(reader, "dial-keep-alive-timeout")
        backoffWaitBetween = try Self.nonNegative(reader, "backoff-wait-between")
        if let fraction = try reader.double("backoff-jitter-fraction") {
            guard (0...1).contains(fraction) else {
                throw reader.error("backoff-jitter-fraction", "expected a number from 0 to 1, got \(fraction)")
            }
            backoffJitterFraction = fraction
        }
        maxUnaryRetries = try reader.int("max-unary-retries", in: 0...Int(UInt32.max))
        maxCallSendMessageSize = try reader.int("MaxCallSendMsgSize", in: 0...Int(Int32.max))
        maxCallReceiveMessageSize = try reader.int("MaxCallRecvMsgSize", in: 0...Int(Int32.max))
        rejectOldCluster = try reader.bool("reject-old-cluster") ?? false
        permitWithoutStream = try reader.bool("permit-without-stream") ?? false

        var tls = ClientTLSSettings(origin: "disco-config for etcd-kv")
        tls.caFile = try reader.nonEmptyString("ca_file")
        tls.certFile = try reader.nonEmptyString("cert_file")
        tls.keyFile = try reader.nonEmptyString("key_file")
        tls.insecureSkipVerify = try reader.bool("insecure_skip_verify") ?? false
        if (tls.certFile == nil) != (tls.keyFile == nil) {
            throw reader.error(tls.certFile == nil ? "cert_file" : "key_file",
                               "a client certificate needs both \"cert_file\" and \"key_file\"")
        }
        if tls.caFile != nil || tls.certFile != nil || tls.insecureSkipVerify {
            if let plain = endpoints.first(where: { $0.scheme == .http }) {
                throw reader.error("endpoints", "\(plain.url) is plain HTTP but TLS settings are given; write https:// (or no scheme)")
            }
            self.tls = tls
        }
    }

    /// The endpoints as base URLs: their own scheme, else https when TLS settings are given.
    public var endpointURLs: [String] {
        endpoints.map { PeerAddress(host: $0.host, port: $0.port, scheme: $0.scheme ?? (tls == nil ? .http : .https)).url }
    }

    static func nonNegative(_ reader: JSONObjectReader, _ key: String) throws(ConfigError) -> Duration? {
        guard let duration = try reader.duration(key) else { return nil }
        guard duration >= .zero else { throw reader.error(key, "must not be negative") }
        return duration
    }
}
