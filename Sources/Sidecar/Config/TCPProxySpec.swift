import DiscoCore
import RateLimitCore

// MARK: - TCP listeners

/// One TCP pass-through listener: `-tcp-proxy '10.0.0.5:27017=127.0.0.1:27017 max-conns=100 rate=10r/s burst=20'`.
///
/// The first word is `LISTEN=UPSTREAM` (`:PORT` listens on every interface); then, optionally,
/// `max-conns=N` (most connections open at once; more are closed at accept), `rate=Nr/s` or
/// `r/m` with `burst=N` (new connections per second, nginx `limit_req` arithmetic without
/// delay: beyond the burst they are closed at accept; one closed for `max-conns` is not charged).
/// A listener whose upstream it would accept itself (`:27017=127.0.0.1:27017`) is refused.
public struct TCPProxySpec: Hashable, Sendable, CustomStringConvertible {
    public var listen: PeerAddress
    public var upstream: PeerAddress
    /// Most connections open at once; nil: no limit.
    public var maxConnections: Int?
    /// New connections per unit of time; nil: no limit.
    public var rate: LimitRate?
    public var burst: Int
    /// How long a connection may pass no bytes either way before it is closed (nginx stream
    /// `proxy_timeout`); zero: never; nil: ``ProxyConfiguration/tcpIdleTimeout``.
    public var idleTimeout: Duration?

    public init(listen: PeerAddress, upstream: PeerAddress, maxConnections: Int? = nil, rate: LimitRate? = nil, burst: Int = 0,
                idleTimeout: Duration? = nil) {
        self.listen = listen
        self.upstream = upstream
        self.maxConnections = maxConnections
        self.rate = rate
        self.burst = burst
        self.idleTimeout = idleTimeout
    }

    public var description: String { "\(listen)=\(upstream)" }

    /// Parses a `-tcp-proxy` value.
    public static func parse(_ text: String) throws(FlagValueError) -> TCPProxySpec {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first, let equals = first.firstIndex(of: "=") else {
            throw FlagValueError("expected LISTEN=UPSTREAM such as 10.0.0.5:27017=127.0.0.1:27017, then optionally max-conns=N rate=Nr/s burst=N")
        }
        let listen = try address(String(first[..<equals]), what: "listen address", allowsEmptyHost: true)
        let upstream = try address(String(first[first.index(after: equals)...]), what: "upstream address", allowsEmptyHost: false)
        var spec = TCPProxySpec(listen: listen, upstream: upstream)
        var seen: [String: String] = [:]
        for word in words.dropFirst() {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw FlagValueError("\(word): expected max-conns=N, rate=Nr/s or burst=N") }
            switch parts[0] {
            case "max-conns":
                guard let value = LimitReqSyntax.wholeNumber(parts[1]), value > 0 else {
                    throw FlagValueError("\(word): max-conns must be a whole number above 0")
                }
                spec.maxConnections = value
            case "rate":
                switch LimitReqSyntax.rate(parts[1]) {
                case .success(let rate): spec.rate = rate
                case .failure(let reason): throw FlagValueError("\(word): \(reason.text)")
                }
            case "burst":
                guard let value = LimitReqSyntax.wholeNumber(parts[1]), (0...LimitReq.maximumBurst).contains(value) else {
                    throw FlagValueError("\(word): burst must be a whole number from 0 to \(LimitReq.maximumBurst)")
                }
                spec.burst = value
            default:
                throw FlagValueError("\(word): unknown parameter; valid parameters: max-conns=, rate=, burst=")
            }
            // A second value would silently replace the first (-limit-req refuses it too).
            if let earlier = seen[parts[0]] { throw FlagValueError("\(word): \(parts[0])= is given twice (also \(earlier)); give each parameter once") }
            seen[parts[0]] = word
        }
        if spec.burst > 0, spec.rate == nil { throw FlagValueError("burst=\(spec.burst) needs rate=, e.g. rate=10r/s burst=\(spec.burst)") }
        if let problem = spec.selfConnectionProblem { throw FlagValueError(problem) }
        return spec
    }

    // MARK: A listener that would connect to itself

    /// Why this listener would connect to itself, or nil: its upstream has the listener's port
    /// and a host the listener accepts on (the same host, or, for a listener on every
    /// interface, a loopback or every-interface host). Each connection would then open another
    /// to the listener, one client filling the process with connections until it runs out of
    /// descriptors. Hosts are compared as written here; at the start, `disco-sidecar` resolves them
    /// too (``SelfConnectionCheck``), so a name or an interface address of this machine is seen.
    public var selfConnectionProblem: String? {
        guard Self.connectsToItself(listen: listen, upstream: upstream) else { return nil }
        let listening = listen.listensOnEveryInterface ? "every interface, \(upstream.host) included" : listen.description
        return "\(self) would connect to itself: the listener takes port \(listen.port) on \(listening), so every connection "
            + "would open another to it until descriptors run out; listen on another address (in a pod, its own, e.g. "
            + "$(POD_IP):\(listen.port)=\(upstream)) or another port"
    }

    /// Whether a connection to `upstream` would reach a listener on `listen`: the same port, and
    /// the same host, or a loopback or every-interface host while `listen` is on every interface
    /// (an IPv6 one only while `listen` takes IPv6: `:PORT` and `[::]` do, `0.0.0.0` does not).
    /// Hosts are compared as written; SidecarProxy's `SelfConnectionCheck.resolving` resolves them.
    public static func connectsToItself(listen: PeerAddress, upstream: PeerAddress) -> Bool {
        guard listen.port != 0, listen.port == upstream.port else { return false }
        let upstreamHosts = PeerAddress.listeningHosts(upstream.host)
        if listen.listensOnEveryInterface {
            // 0.0.0.0 (or ::ffff:0.0.0.0) takes IPv4 only: a connection to [::1] or [::] is not its.
            let takesIPv6 = !listen.host.contains(".")
            return upstream.listensOnEveryInterface && (takesIPv6 || !upstream.isIPv6Literal)
                || upstreamHosts.contains { ($0 == "::1" && takesIPv6) || $0.hasPrefix("127.") }
        }
        return !PeerAddress.listeningHosts(listen.host).isDisjoint(with: upstreamHosts)
    }

    /// `host:port`, or `:port` for every interface, IPv6 and IPv4, when `allowsEmptyHost` (an
    /// address with an empty host; the listener binds `[::]`, or `0.0.0.0` where IPv6 is off).
    static func address(_ text: String, what: String, allowsEmptyHost: Bool) throws(FlagValueError) -> PeerAddress {
        if allowsEmptyHost, text.hasPrefix(":") {
            do throws(PeerAddressError) {
                let port = try PeerAddress(parsing: "0.0.0.0" + text).port
                return PeerAddress(host: "", port: port)
            } catch {
                throw FlagValueError("\(what) \(text.debugDescription): \(error.reason); expected host:port or :port")
            }
        }
        let address: PeerAddress
        do throws(PeerAddressError) {
            address = try PeerAddress(parsing: text)
        } catch {
            throw FlagValueError("\(what) \(text.debugDescription): \(error.reason); expected host:port\(allowsEmptyHost ? " or :port" : "")")
        }
        guard address.scheme == nil else { throw FlagValueError("\(what) \(text): expected host:port without a scheme") }
        return address
    }
}
