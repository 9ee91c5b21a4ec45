import DiscoCore
import Sidecar
import Testing

/// Every bad `-proxy-config` exits 2 with a message naming the flag and the field at fault.
@Suite("Sidecar: -proxy-config messages name the flag and the field")
struct ProxyConfigMessagesTests {
    static let loader = SidecarFlagParsing.emptyLoader

    func failure(_ arguments: [String]) -> FlagError? { SidecarFlagParsing.failure(arguments) }

    /// `disco-sidecar -h` said -api-key-file holds the keys "until the cluster keeps them", long
    /// after the cluster kept them: it replaces the cluster's keys, and -h must say so.
    @Test func apiKeyFileHelpSaysItReplacesTheClustersKeys() {
        var set = FlagSet(programName: "disco-sidecar", synopsis: "")
        _ = SidecarFlags(&set)
        let usage = set.usage()
        #expect(usage.contains("instead of the cluster's replicated keys (discoctl keys)"), "\(usage)")
        #expect(!usage.contains("until the cluster keeps them"), "\(usage)")
    }

    /// A bad "upstream" of a tcp_proxy listener was reported as field "tcp_proxy[0].listen",
    /// sending the user to fix the listen address that was right.
    @Test(arguments: ["127.0.0.1", "127.0.0.1:0", ":27017", "h:x"])
    func aBadTCPUpstreamNamesTheUpstreamField(upstream: String) {
        let error = failure(["-proxy-config", #"{"tcp_proxy": [{"listen": ":27017", "upstream": "\#(upstream)"}]}"#])
        #expect(error?.flag == "proxy-config")
        #expect(error?.message.contains(#"field "tcp_proxy[0].upstream""#) == true, "\(String(describing: error))")
        let listen = failure(["-proxy-config", #"{"tcp_proxy": [{"listen": "27017", "upstream": "127.0.0.1:1"}]}"#])
        #expect(listen?.message.contains(#"field "tcp_proxy[0].listen""#) == true, "\(String(describing: listen))")
    }

    /// A -proxy-config that could not be read, expanded or parsed was reported as
    /// "disco-config: ...", the node's other JSON flag, so the user fixed the wrong one.
    @Test(arguments: [#"{"upstreams": {"s": "$NOT_SET"}}"#, #"{"upstreams": "#, "/etc/disco/gateway.json", "gateway.json"])
    func aProxyConfigThatCannotBeLoadedNamesProxyConfig(value: String) {
        let error = failure(["-proxy-config", value])
        #expect(error?.flag == "proxy-config")
        #expect(error?.message.contains("-proxy-config") == true, "\(String(describing: error))")
        #expect(error?.message.contains("disco-config") == false, "\(String(describing: error))")
    }

    /// `-upstream-health '/he alth'` (or a control character, or a non-ASCII byte) passed
    /// -validate; the sidecar then could not send the check ("invalid URL: whitespace or control
    /// character in path"), so the upstream stayed unhealthy and every request was answered 503.
    @Test(arguments: ["/he alth", "/health\r\nX-Injected: 1", "/health\t", "/gesundheit/\u{00FC}"])
    func aHealthPathThatCannotBeSentIsRefused(path: String) {
        let flag = failure(["-proxy-addr", ":8080", "-upstream", "http://127.0.0.1:9984", "-upstream-health", path])
        #expect(flag?.flag == "upstream-health", "\(String(describing: flag))")
        #expect(flag?.message.contains("percent-encode") == true, "\(String(describing: flag))")
        let json = #"{"upstreams": {"s": {"url": "http://127.0.0.1:1", "health": \#(JSONValue.string(path).encoded())}}}"#
        let field = failure(["-proxy-config", json])
        #expect(field?.flag == "proxy-config")
        #expect(field?.message.contains(#"field "upstreams.s.health""#) == true, "\(String(describing: field))")
    }

    @Test func aHealthPathWithAQueryIsAccepted() {
        #expect(failure(["-upstream", "http://127.0.0.1:9984", "-upstream-health", "/health?full=1&x=%20"]) == nil)
        #expect(failure(["-proxy-config", #"{"upstreams": {"s": {"url": "http://127.0.0.1:1", "health": "/h?a=b"}}}"#]) == nil)
    }
}
