import DiscoCore

// MARK: - A sidecar's announced proxy address

/// Where a sidecar's proxy is reached by the other sidecars: its advertised address
/// (`-proxy-adv-addr`) and whether it speaks only HTTPS. Each sidecar records its own in the
/// cluster's replicated key-value state (``namespace``, one key per node ID), next to the node's
/// member record, so the route to the writer follows what the writer announced instead of
/// guessing a port from its API address.
///
/// Stored as `{"url": "https://10.0.0.1:8443"}` (an object, so fields can be added).
public struct ProxyAnnouncement: Hashable, Sendable, CustomStringConvertible {
    /// The key-value namespace of the announcements (the key is the node ID).
    public static let namespace = "sidecar.proxies"

    /// `host:port` other sidecars connect to.
    public var address: PeerAddress
    /// The proxy speaks only HTTPS (it terminates TLS).
    public var tls: Bool

    public init(address: PeerAddress, tls: Bool) {
        self.address = address.withoutScheme
        self.tls = tls
    }

    /// `https://host:port` or `http://host:port`.
    public var url: String { "\(tls ? "https" : "http")://\(address)" }

    public var description: String { url }

    /// Where a write goes when the sidecar that announced this is the writer.
    public func writerLocation(id: String) -> WriterLocation {
        .remote(address: address.description, id: id, tls: tls)
    }

    // MARK: Stored form

    /// The bytes stored in the key-value state.
    public func encoded() -> [UInt8] {
        var object = JSONObject()
        object.append(key: "url", value: .string(url))
        return JSONValue.object(object).encodedBytes()
    }

    /// Reads a stored announcement; the error says what is wrong with it (another version's
    /// record, a damaged one).
    public static func decode(_ bytes: [UInt8]) -> Result<ProxyAnnouncement, SidecarSyntaxError> {
        guard let json = try? JSONValue.parse(bytes), case .object = json else {
            return .failure(SidecarSyntaxError("the proxy announcement is not a JSON object such as {\"url\":\"https://10.0.0.1:8443\"}"))
        }
        guard let text = json["url"]?.stringValue else {
            return .failure(SidecarSyntaxError("the proxy announcement has no \"url\" string such as \"https://10.0.0.1:8443\""))
        }
        guard text.contains("://") else {
            return .failure(SidecarSyntaxError("the proxy announcement's url \(text.debugDescription) has no scheme; expected http:// or https://"))
        }
        do throws(PeerAddressError) {
            let address = try PeerAddress(parsing: text)
            return .success(ProxyAnnouncement(address: address, tls: address.scheme == .https))
        } catch {
            return .failure(SidecarSyntaxError("the proxy announcement's url: \(error)"))
        }
    }
}

// MARK: - Finding the writer's proxy

extension WriterLocation {
    /// Where writes go, from the node's view: `leader` (nil: none known), whether this node is
    /// it, and the leader's stored announcement (nil: it has announced none yet, or it runs no
    /// proxy, e.g. a plain `discod`).
    public static func locate(leader: String?, isLocal: Bool, announcement: [UInt8]?) -> WriterLocation {
        guard let leader else { return .unknown(reason: "the cluster has no leader") }
        if isLocal { return .local }
        return announced(by: leader, role: "the leader", announcement: announcement)
    }

    /// The proxy of a remote `writer` (described as `role`, e.g. "the leader" or "the hot
    /// replica") at its stored announcement, or why it cannot be reached.
    public static func announced(by writer: String, role: String, announcement: [UInt8]?) -> WriterLocation {
        guard let announcement else {
            return .unknown(reason: "\(role) \(writer) has not announced a sidecar proxy (yet; is it a disco-sidecar with -proxy-addr?)")
        }
        switch ProxyAnnouncement.decode(announcement) {
        case .success(let announced): return announced.writerLocation(id: writer)
        case .failure(let problem): return .unknown(reason: "\(role) \(writer)'s announcement cannot be used: \(problem)")
        }
    }
}

// MARK: - Who may claim a hop

/// The hosts the cluster's sidecars send from: every member's advertised API and Raft hosts
/// and every proxy host they announced (give only current members' announcements: a removed
/// member's stays stored, and its host must stop being trusted). The forwarding headers of a request carrying
/// ``RoutingDecision/hopHeader`` are trusted only when it comes from one of them (by address as
/// written, IPv6 literals in canonical form: members advertised by IP, as pods are, match their
/// connections' source addresses).
public struct SidecarPeers: Hashable, Sendable {
    public private(set) var hosts: Set<String>

    /// - Parameters:
    ///   - memberAddresses: the members' advertised addresses (`host:port` or URLs).
    ///   - announcements: the current members' stored ``ProxyAnnouncement``s (damaged ones are skipped).
    public init(memberAddresses: [String], announcements: [[UInt8]]) {
        var hosts = Set<String>()
        for text in memberAddresses {
            if let address = try? PeerAddress(parsing: text) { hosts.insert(IPv6Literal.canonical(address.host)) }
        }
        for bytes in announcements {
            if case .success(let announced) = ProxyAnnouncement.decode(bytes) { hosts.insert(IPv6Literal.canonical(announced.address.host)) }
        }
        self.hosts = hosts
    }

    /// Whether a connection from `host` may be another sidecar of the cluster.
    public func contains(_ host: String) -> Bool {
        let lower = IPv6Literal.canonical(host)
        if hosts.contains(lower) { return true }
        // An IPv4 client seen on an IPv6 socket.
        if lower.hasPrefix("::ffff:") { return hosts.contains(String(lower.dropFirst("::ffff:".count))) }
        return false
    }
}
