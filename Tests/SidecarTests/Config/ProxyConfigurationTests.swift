import DiscoCore
import RateLimitCore
import Sidecar
import Testing

@Suite("Sidecar: -proxy-config and the proxy flags")
struct ProxyConfigurationTests {
    static let loader = DiscoConfigLoader(environment: { $0 == "SERVICE_PORT" ? "9984" : nil }, readFile: { _ throws(ProcessEnvironment.FileError) in nil })

    func parse(_ arguments: [String]) throws(FlagError) -> ProxyConfiguration {
        try SidecarFlagParsing.configuration(arguments, loader: Self.loader)
    }

    func failure(_ arguments: [String]) -> FlagError? { SidecarFlagParsing.failure(arguments, loader: Self.loader) }

    @Test func theBigchainDBGatewayIsExpressible() throws {
        let json = """
            {"upstreams": {"service": "http://127.0.0.1:$SERVICE_PORT", "auth": {"url": "http://127.0.0.1:8888", "health": "/health"}},
             "routes": [{"name": "reads", "methods": ["GET", "head"], "path": "/", "upstream": "service"},
                        {"name": "writes", "methods": ["POST"], "path": "/api/v1/transactions", "upstream": "auth", "writer": true}],
             "api_keys": {"methods": ["POST"]},
             "tcp_proxy": [{"listen": "10.0.0.5:27017", "upstream": "127.0.0.1:27017", "max_connections": 100}],
             "limit_req_zone": [{"name": "per_client", "rate": "10r/s"}], "limit_req": [{"zone": "per_client", "burst": 5, "nodelay": true}],
             "limit_req_status": 429}
            """
        let configuration = try parse(["-proxy-addr", ":8080", "-proxy-config", json, "-limit-req", "zone=per_app key=app_id rate=600r/m"])
        // `:8080`: every interface, IPv6 and IPv4 (an empty host; the listener binds [::]).
        #expect(configuration.listenAddress == PeerAddress(host: "", port: 8080))
        #expect(configuration.upstreams.map(\.name) == ["service", "auth"])
        #expect(configuration.upstreams[0].address == PeerAddress(host: "127.0.0.1", port: 9984))
        #expect(configuration.upstreams[1].healthPath == "/health")
        #expect(configuration.routes[0].methods == ["GET", "HEAD"])
        #expect(configuration.routes[1].target == RouteTarget(upstream: "auth", viaWriter: true))
        #expect(configuration.apiKeys == APIKeySettings(enabled: true, methods: .only(["POST"])))
        #expect(configuration.tcpProxies == [TCPProxySpec(listen: PeerAddress(host: "10.0.0.5", port: 27017),
                                                          upstream: PeerAddress(host: "127.0.0.1", port: 27017), maxConnections: 100)])
        #expect(configuration.rateLimit.zones.map(\.name) == ["per_app", "per_client"])
        #expect(configuration.rateLimit.policy.limits.map(\.status) == [503, 429])
    }

    @Test func theFlagsAloneGiveTheDefaultRoutes() throws {
        let configuration = try parse(["-proxy-addr", "127.0.0.1:8080", "-upstream", "http://127.0.0.1:9984/", "-api-keys",
                                       "-api-key-methods", "post,delete", "-tcp-proxy", ":27017=10.0.0.7:27017 max-conns=5 rate=10r/s burst=3",
                                       "-limit-req", "rate=10r/s", "-limit-req", "rate=1r/m key=app_id"])
        #expect(configuration.routeTable == RouteTable(ProxyRoute.defaults(upstream: "local")))
        #expect(configuration.apiKeys.methods == .only(["POST", "DELETE"]))
        #expect(configuration.tcpProxies.first?.maxConnections == 5)
        #expect(configuration.tcpProxies.first?.burst == 3)
        #expect(configuration.rateLimit.zones.map(\.name) == ["limit_req_1", "limit_req_2"], "-limit-req repeats")
    }

    @Test func mistakesNameTheFieldAndTheFix() {
        #expect(failure(["-proxy-config", #"{"upstream": {}}"#])?.message.contains(#"did you mean "upstreams"?"#) == true)
        #expect(failure(["-proxy-config", #"{"upstreams": {"s": "https://x:1"}}"#])?.message.contains("https upstreams are not supported") == true)
        #expect(failure(["-proxy-config", #"{"upstreams": {"s": "http://x:1"}, "routes": [{"upstream": "t"}]}"#])?.message
            .contains(#"no upstream is named "t"; defined upstreams: "s""#) == true)
        #expect(failure(["-proxy-config", #"{"routes": [{"path": "api", "upstream": "s"}]}"#])?.message.contains("starting with /") == true)
        #expect(failure(["-proxy-config", #"{"tcp_proxy": [{"listen": ":1", "upstream": "h:2", "burst": 3}]}"#])?.message.contains("needs \"rate\"") == true)
        #expect(failure(["-proxy-config", "{\"upstreams\": {\"s\": \"http://$NOT_SET:1\"}}"])?.message.contains("NOT_SET") == true)
        #expect(failure(["-proxy-addr", ":8080"])?.message.contains("-proxy-addr needs an upstream") == true)
        #expect(failure(["-upstream", "ftp://x"])?.flag == "upstream")
        #expect(failure(["-limit-req", "rate=10r/h"])?.message.contains("unit must be r/s or r/m") == true)
        #expect(failure(["-tcp-proxy", "27017"])?.message.contains("LISTEN=UPSTREAM") == true)
        #expect(failure(["-tcp-proxy", ":1=h:2 conns=3"])?.message.contains("unknown parameter") == true)
        #expect(failure(["-upstream-health", "health"])?.message.contains("expected a path") == true)
        #expect(failure(["-proxy-read-timeout", "0s"])?.flag == "proxy-read-timeout")
        #expect(failure(["-upstream-health-interval", "-1s"])?.flag == "upstream-health-interval")
        #expect(failure(["-upstream", "http://a:1", "-proxy-config", #"{"upstreams": {"local": "http://b:2"}}"#])?.message
            .contains("defined twice") == true)
    }

    /// Only the strings 0.0.0.0, :: and 0:0:0:0:0:0:0:0 counted as every interface: with
    /// -proxy-addr [::0]:8080 the sidecar announced [::0]:8080 (which its peers reach as their
    /// own host), and -proxy-adv-addr [::0]:8080 was accepted.
    @Test func everySpellingOfTheUnspecifiedAddressIsEveryInterface() throws {
        for host in ["[::0]", "[0:0::0]", "[::ffff:0.0.0.0]"] {
            let listening = try parse(["-proxy-addr", "\(host):8080", "-upstream", "http://127.0.0.1:9984"])
            #expect(listening.announcement(boundPort: 8080, apiHost: "10.0.0.1")?.address == PeerAddress(host: "10.0.0.1", port: 8080), "\(host)")
            let advertised = failure(["-proxy-addr", ":8080", "-upstream", "http://127.0.0.1:9984", "-proxy-adv-addr", "\(host):8080"])
            #expect(advertised?.flag == "proxy-adv-addr", "\(host): \(String(describing: advertised))")
        }
        let specific = try parse(["-proxy-addr", "[::1]:8080", "-upstream", "http://127.0.0.1:9984"])
        #expect(specific.announcement(boundPort: 8080, apiHost: "10.0.0.1")?.address == PeerAddress(host: "::1", port: 8080))
    }

    /// -proxy-connect-timeout and -proxy-read-timeout refuse 0, but "read_timeout": "0s" in
    /// -proxy-config passed -validate and every proxied request then answered 504.
    @Test(arguments: [("connect_timeout", "0s"), ("read_timeout", "0s"), ("read_timeout", "-1s"), ("upstream_health_interval", "-5s"),
                      ("upstream_health_interval", "1ns"), ("upstream_health_interval", "99ms")])
    func configTimeoutsThatCannotWorkAreRefused(field: String, value: String) {
        let json = #"{"upstreams": {"s": "http://127.0.0.1:1"}, "\#(field)": "\#(value)"}"#
        let error = failure(["-proxy-config", json])
        #expect(error?.flag == "proxy-config")
        #expect(error?.message.contains(#"field "\#(field)""#) == true, "\(String(describing: error))")
    }

    /// -upstream-health-interval 1ns was accepted, and the proxy then checked its upstreams in a
    /// busy loop: an interval is 0 (no checks) or at least 100ms.
    @Test(arguments: ["1ns", "1ms", "99ms"])
    func aHealthIntervalBelowTheMinimumIsAFlagError(interval: String) throws {
        let error = failure(["-upstream", "http://127.0.0.1:9984", "-upstream-health-interval", interval])
        #expect(error?.flag == "upstream-health-interval")
        #expect(error?.message.contains("must be 0 (no health checks) or at least 100ms") == true, "\(String(describing: error))")
        #expect(error?.message.contains("got \(interval)") == true, "\(String(describing: error))")
    }

    @Test(arguments: [("0s", Duration.zero), ("100ms", .milliseconds(100)), ("5s", .seconds(5))])
    func healthIntervalsFromTheMinimumOrZeroPass(text: String, interval: Duration) throws {
        #expect(try parse(["-upstream", "http://127.0.0.1:9984", "-upstream-health-interval", text]).healthInterval == interval)
        let json = #"{"upstreams": {"s": "http://127.0.0.1:1"}, "upstream_health_interval": "\#(text)"}"#
        #expect(try parse(["-proxy-config", json]).healthInterval == interval)
    }

    /// `-proxy-cert ""` (an unset variable) silently meant the API's certificate or plain HTTP,
    /// and `-proxy-hop-key ""` hops trusted by address: a given but empty file flag is an error.
    @Test(arguments: ["proxy-cert", "proxy-key", "proxy-ca-cert", "proxy-hop-key"])
    func anEmptyFileFlagIsAnError(flag: String) {
        let error = failure(["-upstream", "http://127.0.0.1:9984", "-\(flag)", ""])
        #expect(error?.flag == flag, "\(String(describing: error))")
        #expect(error?.message.contains("-\(flag): the path is empty (an unset variable?)") == true, "\(String(describing: error))")
    }

    /// The drain timeout is added to the node's shutdown grace: a negative one passed -validate,
    /// then the start failed (exit 1) with "timing.shutdownGrace: must be positive".
    @Test func aNegativeDrainTimeoutIsAFlagError() throws {
        let error = failure(["-proxy-drain-timeout", "-1h"])
        #expect(error?.flag == "proxy-drain-timeout")
        #expect(error?.message.contains("must not be negative") == true, "\(String(describing: error))")
        #expect(try parse(["-proxy-drain-timeout", "0s"]).drainTimeout == .zero)
    }

    /// -tcp-proxy-idle-timeout (nginx stream proxy_timeout, 10m) bounds every listener without an
    /// "idle_timeout" of its own in -proxy-config; -proxy-websocket-idle-timeout (1h) bounds
    /// WebSockets. 0 turns either off; a negative one names its flag or field.
    @Test func idleTimeoutsComeFromTheFlagsAndEachListener() throws {
        let tcp = ":27017=10.0.0.7:27017"
        let defaults = try parse(["-tcp-proxy", tcp])
        #expect(defaults.idleTimeout(of: try #require(defaults.tcpProxies.first)) == .seconds(600))
        #expect(defaults.webSocketIdleTimeout == .seconds(3600))
        let off = try parse(["-tcp-proxy", tcp, "-tcp-proxy-idle-timeout", "0s", "-proxy-websocket-idle-timeout", "0"])
        #expect(off.idleTimeout(of: try #require(off.tcpProxies.first)) == nil)
        #expect(off.webSocketIdleTimeout == .zero)
        let json = #"{"tcp_proxy": [{"listen": ":1", "upstream": "h:2", "idle_timeout": "30m"}, {"listen": ":3", "upstream": "h:4"}]}"#
        let mixed = try parse(["-tcp-proxy", tcp, "-tcp-proxy-idle-timeout", "2m", "-proxy-config", json])
        #expect(mixed.tcpProxies.map { mixed.idleTimeout(of: $0) } == [.seconds(120), .seconds(1800), .seconds(120)])
        for flag in ["tcp-proxy-idle-timeout", "proxy-websocket-idle-timeout"] {
            let error = failure(["-\(flag)", "-1s"])
            #expect(error?.flag == flag)
            #expect(error?.message.contains("-\(flag) must not be negative") == true, "\(String(describing: error))")
        }
        let negative = failure(["-proxy-config", #"{"tcp_proxy": [{"listen": ":1", "upstream": "h:2", "idle_timeout": "-1s"}]}"#])
        #expect(negative?.flag == "proxy-config")
        #expect(negative?.message.contains(#"field "tcp_proxy[0].idle_timeout""#) == true, "\(String(describing: negative))")
    }

    /// -proxy-ignore-client-abort (nginx's proxy_ignore_client_abort) is off by default.
    @Test func ignoreClientAbortComesFromItsFlag() throws {
        #expect(try parse([]).ignoresClientAbort == false)
        #expect(try parse(["-proxy-ignore-client-abort"]).ignoresClientAbort == true)
    }
}

@Suite("Sidecar: -api-key-file")
struct APIKeyFileTests {
    @Test func entriesHoldTheKeysHashAndMistakesNameTheEntry() throws {
        let digest = String(repeating: "ab", count: 32)
        let file = try APIKeyFile.parse(Array(#"[{"app_id":"a","app_key_sha256":"\#(digest)"},{"app_id":"b","app_key_sha256":"\#(digest.uppercased())","revoked":true}]"#.utf8), path: "k.json")
        #expect(file.entries.map(\.appID) == ["a", "b"])
        #expect(file.entries[0].keySHA256 == [UInt8](repeating: 0xAB, count: 32))
        #expect(file.entries.map(\.revoked) == [false, true])
        func message(_ text: String) -> String {
            do throws(ConfigError) {
                _ = try APIKeyFile.parse(Array(text.utf8), path: "k.json")
                return ""
            } catch {
                return error.message
            }
        }
        #expect(message(#"{"app_id":"a"}"#).contains("expected an array"))
        #expect(message(#"[{"app_id":"a","app_key_sha256":"abc"}]"#).contains("\"[0].app_key_sha256\": expected the key's SHA-256 as 64 hexadecimal digits"))
        #expect(message(#"[{"app_id":"a","app_key":"secret"}]"#).contains(#"unknown field "[0].app_key""#))
        #expect(message(#"[{"app_id":"a","app_key_sha256":"\#(digest)"},{"app_id":"a","app_key_sha256":"\#(digest)"}]"#).contains("listed twice"))
        #expect(message("[").contains("not JSON"))
    }
}
