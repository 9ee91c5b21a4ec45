import DiscoCore
import Sidecar
import Testing

/// A strict `-proxy-config` refuses every repeat that makes it ambiguous, naming the field and
/// the fix, and accepts repeats that change nothing.
@Suite("Sidecar: -proxy-config refuses ambiguous duplicates")
struct ProxyConfigDuplicatesTests {
    func failure(_ arguments: [String]) -> FlagError? { SidecarFlagParsing.failure(arguments) }

    func routes(_ routes: String) -> [String] {
        ["-proxy-config", #"{"upstreams": {"a": "http://127.0.0.1:1", "b": "http://127.0.0.1:2"}, "routes": [\#(routes)]}"#]
    }

    /// Two routes of one name were accepted, and their requests were counted as one in
    /// disco_proxy_requests_total{route} (and -validate printed two proxy.route.NAME lines).
    @Test(arguments: [
        (#"{"name": "r", "upstream": "a"}, {"name": "r", "path": "/x", "upstream": "b"}"#,
         #"field "routes[1].name": route name "r" is also routes[0]'s; give each route its own "name""#),
        // An unnamed route is called routes[N]: a route named so by hand merges with it.
        (#"{"name": "routes[1]", "upstream": "a"}, {"path": "/x", "upstream": "b"}"#,
         #"field "routes[1].name": route name "routes[1]" (the name a route without "name" gets) is also routes[0]'s"#),
        // Requests that match no route are counted as route "none".
        (#"{"name": "none", "upstream": "a"}"#, #"field "routes[0].name": "none" is how requests that match no route are counted"#),
        (#"{"name": "", "upstream": "a"}"#, #"field "routes[0].name": must not be empty"#),
        // The second of two routes with one path and the same methods is never used.
        (#"{"path": "/x", "upstream": "a"}, {"path": "/x", "upstream": "b"}"#,
         #"field "routes[1].path": routes[0] has the same path "/x" and every method"#),
        (#"{"methods": ["GET", "post"], "upstream": "a"}, {"methods": ["POST", "GET"], "upstream": "b"}"#,
         #"field "routes[1].path": routes[0] has the same path "/" and methods GET,POST"#),
    ])
    func ambiguousRoutesAreRefused(routes json: String, message: String) {
        let error = failure(routes(json))
        #expect(error?.flag == "proxy-config", "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    /// Repeats that change nothing, and routes that differ in path or methods, pass.
    @Test func harmlessRepeatsPass() {
        #expect(failure(routes(#"{"methods": ["GET", "get", "GET"], "upstream": "a"}, {"methods": ["POST"], "upstream": "a"}, "#
            + #"{"methods": ["GET"], "path": "/x", "upstream": "b"}, {"upstream": "b"}"#)) == nil)
        #expect(failure(["-proxy-config", #"{"upstreams": {"a": "http://127.0.0.1:1", "b": "http://127.0.0.1:1"}, "#
            + #""api_keys": {"methods": ["POST", "post"]}}"#]) == nil)
        #expect(failure(["-api-keys", "-api-key-methods", "POST,POST,post"]) == nil)
    }

    /// A JSON object with one key twice (the upstream's name, here) is refused by the parser, so
    /// no reader takes the last silently.
    @Test func aKeyGivenTwiceIsRefused() {
        let error = failure(["-proxy-config", #"{"upstreams": {"a": "http://127.0.0.1:1", "a": "http://127.0.0.1:2"}}"#])
        #expect(error?.flag == "proxy-config")
        #expect(error?.message.contains(#"duplicate key "a""#) == true, "\(String(describing: error))")
    }

    /// A flag and a field of -proxy-config for the same setting: the flag silently won (and
    /// `-api-keys` with "api_keys": {"enabled": false} left keys on), where
    /// limit_req_share_interval already refused both.
    @Test(arguments: [
        (["-upstream-health-interval", "1s"], #""upstream_health_interval": "2s""#, "-upstream-health-interval and upstream_health_interval"),
        (["-proxy-connect-timeout", "1s"], #""connect_timeout": "2s""#, "-proxy-connect-timeout and connect_timeout"),
        (["-proxy-read-timeout", "1s"], #""read_timeout": "2s""#, "-proxy-read-timeout and read_timeout"),
        (["-api-keys"], #""api_keys": {"enabled": false}"#, "-api-keys and api_keys"),
        (["-api-key-methods", "GET"], #""api_keys": {"methods": ["POST"]}"#, "-api-key-methods and api_keys"),
    ])
    func aSettingGivenByAFlagAndTheConfigIsRefused(flags: [String], field: String, message: String) {
        let error = failure(flags + ["-proxy-config", "{\(field)}"])
        #expect(error?.flag == "proxy-config", "\(String(describing: error))")
        #expect(error?.message.contains(message + " in -proxy-config are both set; give one") == true, "\(String(describing: error))")
        #expect(failure(["-proxy-config", "{\(field)}"]) == nil, "the field alone is fine")
    }

    /// `-tcp-proxy ':1=h:2 max-conns=5 max-conns=50'` kept the last value silently.
    @Test(arguments: ["max-conns=5 max-conns=50", "rate=1r/s rate=2r/s", "burst=1 rate=1r/s burst=2"])
    func aTCPParameterGivenTwiceIsRefused(parameters: String) {
        let error = failure(["-tcp-proxy", ":27017=10.0.0.7:27017 \(parameters)"])
        #expect(error?.flag == "tcp-proxy", "\(String(describing: error))")
        #expect(error?.message.contains("is given twice") == true, "\(String(describing: error))")
    }
}
