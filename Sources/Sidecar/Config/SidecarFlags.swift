import DiscoCore
import RateLimitCore

// MARK: - SidecarFlags

/// The proxy's flags, declared on a flag set (the sidecar's own, or a node program's after its
/// node flags), and turned into a ``ProxyConfiguration`` together with `-proxy-config`.
public struct SidecarFlags: Sendable {
    public static let proxyGroup = "Proxy"

    let proxyAddr: Flag<PeerAddress?>
    let upstream: Flag<String>
    let proxyConfig: Flag<String>
    let limitReq: Flag<[LimitReqSpec]>
    let apiKeys: Flag<Bool>
    let apiKeyMethods: Flag<APIKeyMethods>
    let apiKeyFile: Flag<String>
    let apiKeyMaxStaleness: Flag<Duration?>
    let tcpProxy: Flag<[TCPProxySpec]>
    let tcpProxyIdleTimeout: Flag<Duration>
    let webSocketIdleTimeout: Flag<Duration>
    let upstreamHealth: Flag<String>
    let upstreamHealthInterval: Flag<Duration>
    let drainTimeout: Flag<Duration>
    let connectTimeout: Flag<Duration>
    let readTimeout: Flag<Duration>
    let proxyCert: Flag<String>
    let proxyThreads: Flag<Int>
    let proxyKey: Flag<String>
    let proxyCACert: Flag<String>
    let proxyServerName: Flag<String>
    let proxyAdvAddr: Flag<PeerAddress?>
    let proxyHopKey: Flag<String>
    let limitReqShareInterval: Flag<Duration>
    let proxyIgnoreClientAbort: Flag<Bool>

    /// The names of the flags this declares.
    public static let names = ["proxy-addr", "upstream", "proxy-config", "limit-req", "api-keys", "api-key-methods", "api-key-file",
                               "api-key-max-staleness", "tcp-proxy",
                               "tcp-proxy-idle-timeout", "proxy-websocket-idle-timeout",
                               "upstream-health", "upstream-health-interval", "proxy-drain-timeout", "proxy-connect-timeout",
                               "proxy-read-timeout", "proxy-cert", "proxy-key", "proxy-threads", "proxy-ca-cert", "proxy-server-name",
                               "proxy-adv-addr", "proxy-hop-key", "limit-req-share-interval",
                               "proxy-ignore-client-abort"]

    /// The flags that may be given several times (each occurrence adds a limit or a listener);
    /// every other proxy flag may be given once (a second `-proxy-config` or `-upstream` would
    /// silently replace the first). The node's flags keep Go's rule (the last value wins), which
    /// rqlite's command lines rely on.
    public static let repeatable: Set<String> = ["limit-req", "tcp-proxy"]

    /// Declares the flags on `set`.
    public init(_ set: inout FlagSet, group: String = Self.proxyGroup) {
        proxyAddr = set.custom("proxy-addr", default: nil, defaultText: nil, typeName: "host:port",
                               usage: "Where the HTTP proxy listens (:8080 for every interface, IPv6 and IPv4);\n"
                               + "without it no HTTP proxy runs",
                               group: group) { text throws(FlagValueError) in
            try TCPProxySpec.address(text, what: "proxy address", allowsEmptyHost: true)
        }
        upstream = set.string("upstream", usage: "The local service the proxy fronts, e.g. http://127.0.0.1:9984: reads go to it,\n"
                              + "writes to the writer's (the Raft leader's sidecar)", group: group, typeName: "url")
        proxyConfig = set.string("proxy-config", usage: "Proxy configuration: JSON, or the path of a JSON file ($VAR expanded): named upstreams,\n"
                                 + "routes, rate-limit zones, API keys, TCP listeners", group: group, typeName: "json|path")
        limitReq = set.repeated("limit-req", usage: "A rate limit with nginx limit_req semantics, e.g. 'rate=10r/s burst=5 nodelay'\n"
                                + "(also r/m, delay=N, status=N, key=addr|app_id|header:NAME, zone=, size=,\ndry-run, shared)",
                                group: group, typeName: "spec") { text throws(FlagValueError) in try LimitReqSpec.parse(text) }
        apiKeys = set.bool("api-keys", usage: "Require an API key (app_id and app_key headers) for the -api-key-methods", group: group)
        apiKeyMethods = set.custom("api-key-methods", default: APIKeyMethods.writes, defaultText: "\"\(APIKeyMethods.writesName)\"",
                                   typeName: "list", usage: "Methods that need an API key with -api-keys: writes (every method except\n"
                                   + "GET, HEAD and OPTIONS) or a list such as POST,PUT,DELETE", group: group) { text throws(FlagValueError) in
            let items = text.split(separator: ",").map { String($0.trimmingSpaces) }.filter { !$0.isEmpty }
            switch APIKeyMethods.parse(items) {
            case .success(let methods): return methods
            case .failure(let problem): throw FlagValueError(problem.message)
            }
        }
        apiKeyFile = set.string("api-key-file", usage: "JSON array of {\"app_id\", \"app_key_sha256\", \"revoked\"}: the keys -api-keys checks,\n"
                                + "instead of the cluster's replicated keys (discoctl keys)", group: group, typeName: "file")
        apiKeyMaxStaleness = set.custom("api-key-max-staleness", default: nil, defaultText: nil, typeName: "duration",
                                        usage: "How long a node may go without word from the Raft leader before its sidecar refuses\n"
                                        + "(503 stale) requests that need a cluster key and go to its own upstream (default: four\n"
                                        + "election timeouts, 1.2s; 0: never refused for that)", group: group) { text throws(FlagValueError) in
            do throws(DurationParseError) {
                return try GoDuration.parse(text)
            } catch {
                let prefix = error.reason == "not a duration" ? "" : error.reason + "; "
                throw FlagValueError(prefix + "expected a duration such as 5s, or 0 (never refuse)")
            }
        }
        tcpProxy = set.repeated("tcp-proxy", usage: "A TCP pass-through listener LISTEN=UPSTREAM,\ne.g. '10.0.0.5:27017=127.0.0.1:27017 max-conns=100 rate=10r/s'",
                                group: group, typeName: "spec") { text throws(FlagValueError) in try TCPProxySpec.parse(text) }
        tcpProxyIdleTimeout = set.duration("tcp-proxy-idle-timeout", default: .seconds(600),
                                           usage: "Close a -tcp-proxy connection after this long with no bytes either way\n"
                                           + "(nginx stream proxy_timeout; 0: never)", group: group)
        webSocketIdleTimeout = set.duration("proxy-websocket-idle-timeout", default: .seconds(3600),
                                            usage: "Close a proxied WebSocket after this long with no bytes either way (0: never;\n"
                                            + "nginx's is proxy_read_timeout, 60s, counting only the upstream's bytes)", group: group)
        upstreamHealth = set.string("upstream-health", usage: "Path of an HTTP GET that checks the upstream's health (2xx or 3xx is healthy);\n"
                                    + "without it a TCP connect is the check", group: group, typeName: "path")
        upstreamHealthInterval = set.duration("upstream-health-interval", default: .seconds(5),
                                              usage: "How often upstream health is checked (0: never; upstreams count as healthy;\nelse at least 100ms)", group: group)
        drainTimeout = set.duration("proxy-drain-timeout", default: .seconds(10),
                                    usage: "On SIGTERM, how long in-flight proxied requests may take to finish\nbefore the node leaves; with -hot-cold, also how long a hand-over of the hot\n(SIGTERM, hot move) waits for its writes in flight before releasing the lease",
                                    group: group)
        connectTimeout = set.duration("proxy-connect-timeout", default: .seconds(5), usage: "Bound on connecting to an upstream (then 504)", group: group)
        readTimeout = set.duration("proxy-read-timeout", default: .seconds(60),
                                   usage: "Bound on waiting for an upstream's response head, and for each part of its body\n(then 504)", group: group)
        proxyCert = set.string("proxy-cert", usage: "PEM certificate (chain, leaf first) the proxy presents: it then speaks only HTTPS\n"
                               + "(default: -http-cert's, when the node's API has one)", group: group, typeName: "path")
        proxyKey = set.string("proxy-key", usage: "PEM private key of -proxy-cert", group: group, typeName: "path")
        proxyCACert = set.string("proxy-ca-cert", usage: "PEM CA certificate(s) that sign the other sidecars' proxy certificates: a write forwarded\n"
                                 + "to the writer's HTTPS proxy is sent only if its certificate verifies (default: -http-ca-cert's,\n"
                                 + "else the system's CAs)", group: group, typeName: "path")
        proxyServerName = set.string("proxy-server-name", usage: "The name the writer's proxy certificate must carry (default: the host the writer\n"
                                     + "announced), e.g. the Service name when every sidecar presents the Service's certificate",
                                     group: group, typeName: "name")
        proxyAdvAddr = set.custom("proxy-adv-addr", default: nil, defaultText: nil, typeName: "host:port",
                                  usage: "Where the other sidecars reach this proxy, announced to the cluster (default: -proxy-addr,\n"
                                  + "with -http-adv-addr's host when -proxy-addr listens on every interface)", group: group) { text throws(FlagValueError) in
            let address = try TCPProxySpec.address(text, what: "advertised proxy address", allowsEmptyHost: false)
            guard !ProxyConfiguration.isEveryInterface(address.host), address.port != 0 else {
                throw FlagValueError("advertised proxy address \(text) is not routable; give a host and port the other sidecars can reach")
            }
            return address
        }
        proxyHopKey = set.string("proxy-hop-key", usage: "File holding a secret every sidecar of the cluster has (at least 32 bytes): hops between\n"
                                 + "sidecars and shared rate-limit counts carry an HMAC-SHA256 proof under it, and unproven\n"
                                 + "hops are routed as client requests. Required for shared zones", group: group, typeName: "path")
        limitReqShareInterval = set.duration("limit-req-share-interval", default: RateLimitConfiguration.defaultShareInterval,
                                             usage: "How often sidecars send each other the counts of shared rate-limit zones", group: group)
        proxyIgnoreClientAbort = set.bool("proxy-ignore-client-abort",
                                          usage: "Keep a request whose client closed its end of the connection (a FIN) while it waited:\n"
                                          + "a client that half-closes after its request is then answered (default: the request\n"
                                          + "ends, its upstream connection is closed, and it counts as 499, as nginx's default)", group: group)
        proxyThreads = set.int("proxy-threads", default: 1, usage: "Event-loop threads of the proxy; with 1 (as one nginx worker) rate limits\n"
                               + "decide requests in the order they arrive", group: group, typeName: "n")
        set.givenOnce(Self.names.filter { !Self.repeatable.contains($0) })
    }

    /// The configuration the flags and `-proxy-config` (read through `loader`) describe, checked.
    public func configuration(_ parsed: ParsedFlags, loader: DiscoConfigLoader) throws(FlagError) -> ProxyConfiguration {
        var configuration = ProxyConfiguration()
        configuration.listenAddress = parsed[proxyAddr]
        let upstreamText = parsed[upstream]
        if !upstreamText.isEmpty {
            switch UpstreamDefinition.parseURL(upstreamText) {
            case .success(let address):
                let path = parsed[upstreamHealth]
                configuration.upstreams = [UpstreamDefinition(name: UpstreamDefinition.flagName, address: address, healthPath: path.isEmpty ? nil : path)]
            case .failure(let problem):
                throw FlagError(code: .invalidValue, flag: "upstream", message: "invalid value \(upstreamText.debugDescription) for flag -upstream: \(problem.message)")
            }
        }
        let healthPath = parsed[upstreamHealth]
        if !healthPath.isEmpty, let problem = UpstreamDefinition.healthPathProblem(healthPath) {
            throw FlagError(code: .invalidValue, flag: "upstream-health", message: "invalid value \(healthPath.debugDescription) for flag -upstream-health: \(problem)")
        }
        do throws(FlagValueError) {
            configuration.rateLimit = try RateLimitConfiguration(flags: parsed[limitReq])
        } catch {
            throw FlagError(code: .invalidValue, flag: "limit-req", message: "invalid value for flag -limit-req: \(error.reason)")
        }
        if parsed.isSet(limitReqShareInterval) {
            guard RateLimitConfiguration.shareIntervals.contains(parsed[limitReqShareInterval]) else {
                throw FlagError(code: .invalidValue, flag: "limit-req-share-interval", message: "-limit-req-share-interval must be from 10ms to 10s, e.g. 100ms")
            }
            configuration.rateLimit.shareInterval = parsed[limitReqShareInterval]
        }
        configuration.hopKeyFile = parsed[proxyHopKey].isEmpty ? nil : parsed[proxyHopKey]
        configuration.ignoresClientAbort = parsed[proxyIgnoreClientAbort]
        configuration.apiKeys = APIKeySettings(enabled: parsed[apiKeys], methods: parsed[apiKeyMethods],
                                               file: parsed[apiKeyFile].isEmpty ? nil : parsed[apiKeyFile],
                                               maxStaleness: parsed[apiKeyMaxStaleness])
        if let staleness = parsed[apiKeyMaxStaleness], staleness < .zero {
            throw FlagError(code: .invalidValue, flag: apiKeyMaxStaleness.name, message: "-api-key-max-staleness must not be negative: "
                + "give 0 (never refuse for the leader's silence) or a duration such as 5s; got \(GoDuration.format(staleness))")
        }
        configuration.tcpProxies = parsed[tcpProxy]
        configuration.tcpIdleTimeout = parsed[tcpProxyIdleTimeout]
        configuration.webSocketIdleTimeout = parsed[webSocketIdleTimeout]
        for (name, flag) in [("tcp-proxy-idle-timeout", tcpProxyIdleTimeout), ("proxy-websocket-idle-timeout", webSocketIdleTimeout)]
        where parsed[flag] < .zero {
            throw FlagError(code: .invalidValue, flag: name, message: "-\(name) must not be negative: give 0 (no idle timeout) or a duration such as 10m")
        }
        configuration.healthInterval = parsed[upstreamHealthInterval]
        configuration.drainTimeout = parsed[drainTimeout]
        configuration.connectTimeout = parsed[connectTimeout]
        configuration.readTimeout = parsed[readTimeout]
        for (name, flag) in [("proxy-connect-timeout", connectTimeout), ("proxy-read-timeout", readTimeout)] where parsed[flag] <= .zero {
            throw FlagError(code: .invalidValue, flag: name, message: "-\(name) must be above 0, e.g. 5s")
        }
        guard ProxyConfiguration.isUsableHealthInterval(configuration.healthInterval) else {
            let minimum = GoDuration.format(ProxyConfiguration.minimumHealthInterval)
            throw FlagError(code: .invalidValue, flag: "upstream-health-interval",
                            message: "-upstream-health-interval must be 0 (no health checks) or at least \(minimum), e.g. 5s; "
                                + "got \(GoDuration.format(configuration.healthInterval))")
        }
        // The drain timeout is added to the node's shutdown grace, which must stay positive.
        guard configuration.drainTimeout >= .zero else {
            throw FlagError(code: .invalidValue, flag: "proxy-drain-timeout",
                            message: "-proxy-drain-timeout must not be negative: give 0 (no draining) or a duration such as 10s")
        }
        configuration.threads = parsed[proxyThreads]
        guard (1...64).contains(configuration.threads) else {
            throw FlagError(code: .invalidValue, flag: "proxy-threads", message: "-proxy-threads must be from 1 to 64, got \(configuration.threads)")
        }
        for (flag, without) in [(proxyCert, "-http-cert's (or plain HTTP)"), (proxyKey, "-http-key's (or plain HTTP)"),
                                (proxyCACert, "-http-ca-cert's (or the system's CAs)"), (proxyHopKey, "hops trusted by address")] {
            try parsed.requireNonEmpty(flag, without: without)
        }
        switch (parsed[proxyCert].isEmpty, parsed[proxyKey].isEmpty) {
        case (false, false): configuration.tls = ProxyTLSFiles(certificate: parsed[proxyCert], key: parsed[proxyKey])
        case (false, true): throw FlagError.conflict("proxy-key", "-proxy-cert needs -proxy-key (the certificate's private key)")
        case (true, false): throw FlagError.conflict("proxy-cert", "-proxy-key needs -proxy-cert")
        case (true, true): break
        }
        configuration.peerTLS = ProxyPeerTLS(caCertificate: parsed[proxyCACert].isEmpty ? nil : parsed[proxyCACert],
                                             serverName: parsed[proxyServerName].isEmpty ? nil : parsed[proxyServerName])
        configuration.advertisedAddress = parsed[proxyAdvAddr]
        if configuration.advertisedAddress != nil, configuration.listenAddress == nil {
            throw FlagError.conflict("proxy-adv-addr", "-proxy-adv-addr announces the HTTP proxy; set -proxy-addr as well")
        }
        do throws(ConfigError) {
            let text = parsed[proxyConfig]
            if !text.isEmpty {
                let json = try loader.loadJSON(text, name: "-proxy-config")
                var fromJSON = try ProxyConfiguration(json: json)
                try Self.refuseSettingsGivenTwice(parsed, json, [
                    ("upstream_health_interval", [upstreamHealthInterval.name]), ("connect_timeout", [connectTimeout.name]),
                    ("read_timeout", [readTimeout.name]), ("api_keys", [apiKeys.name, apiKeyMethods.name]),
                ])
                // -upstream-health applies to upstreams of the config that name no health path of their own.
                if !healthPath.isEmpty {
                    for index in fromJSON.upstreams.indices where fromJSON.upstreams[index].healthPath == nil {
                        fromJSON.upstreams[index].healthPath = healthPath
                    }
                }
                // Flags `api_keys` does not hold: kept when it replaces the flags' settings.
                let (file, maxStaleness) = (configuration.apiKeys.file, configuration.apiKeys.maxStaleness)
                if parsed.isSet(limitReqShareInterval), fromJSON.rateLimit.shareInterval != nil {
                    throw ConfigError(code: .invalidValue, field: "limit_req_share_interval",
                                      message: "-limit-req-share-interval and limit_req_share_interval in -proxy-config are both set; give one")
                }
                configuration = try configuration.merging(fromJSON)
                configuration.apiKeys.file = file
                configuration.apiKeys.maxStaleness = maxStaleness
                if parsed.isSet(upstreamHealthInterval) { configuration.healthInterval = parsed[upstreamHealthInterval] } else {
                    configuration.healthInterval = fromJSON.healthInterval
                }
                if !parsed.isSet(connectTimeout) { configuration.connectTimeout = fromJSON.connectTimeout }
                if !parsed.isSet(readTimeout) { configuration.readTimeout = fromJSON.readTimeout }
            }
            return try configuration.validated()
        } catch {
            throw FlagError(code: .invalidValue, flag: "proxy-config", message: error.message)
        }
    }
}

extension SidecarFlags {
    /// Refuses a setting given both by a flag and by a field of `-proxy-config` (as
    /// `limit_req_share_interval`): one would silently replace the other.
    fileprivate static func refuseSettingsGivenTwice(_ parsed: ParsedFlags, _ json: JSONValue,
                                                     _ pairs: [(field: String, flags: [String])]) throws(ConfigError) {
        for (field, flags) in pairs where json[field] != nil {
            guard let flag = flags.first(where: { parsed.isSet($0) }) else { continue }
            throw ConfigError(code: .invalidValue, field: field,
                              message: "-\(flag) and \(field) in -proxy-config are both set; give one (one would silently replace the other)")
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var result = self
        while result.first == " " { result = result.dropFirst() }
        while result.last == " " { result = result.dropLast() }
        return result
    }
}
