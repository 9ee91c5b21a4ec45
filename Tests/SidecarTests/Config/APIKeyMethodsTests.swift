import DiscoCore
import Sidecar
import Testing

// MARK: - APIKeyMethods

/// Which methods need an API key: by default (`writes`) every method except GET, HEAD and
/// OPTIONS, as the default routes send every other one to the writer; a list names exactly the
/// methods that need one, matched ignoring case.
@Suite("Sidecar: the methods that need an API key")
struct APIKeyMethodsTests {
    static let loader = SidecarFlagParsing.emptyLoader

    func parse(_ arguments: [String]) throws(FlagError) -> ProxyConfiguration {
        try SidecarFlagParsing.configuration(arguments, loader: Self.loader)
    }

    func failure(_ arguments: [String]) -> FlagError? { SidecarFlagParsing.failure(arguments, loader: Self.loader) }

    @Test func writesIsEveryMethodExceptTheDefaultRoutesReads() {
        let writes = APIKeyMethods.writes
        for method in ["POST", "PUT", "PATCH", "DELETE", "FOO", "PROPPATCH", "MERGE", "CONNECT", "TRACE", "post"] {
            #expect(writes.requiresKey(method: method), "\(method)")
        }
        for method in ["GET", "HEAD", "OPTIONS"] {
            #expect(!writes.requiresKey(method: method), "\(method)")
            #expect(ProxyRoute.defaults(upstream: "u")[0].matches(method: method, path: "/"), "\(method) is the reads route's")
        }
        // The routes compare methods byte for byte: a `get` goes to the writer, so it needs a key.
        for method in ["get", "Head", "options"] {
            #expect(writes.requiresKey(method: method), "\(method)")
            #expect(!ProxyRoute.defaults(upstream: "u")[0].matches(method: method, path: "/"), "\(method) is not a read route's")
        }
    }

    @Test func aListNeedsAKeyForExactlyItsMethodsIgnoringCase() {
        let post = APIKeyMethods.only(["POST"])
        #expect(post.requiresKey(method: "POST"))
        #expect(post.requiresKey(method: "post"))
        for method in ["PUT", "FOO", "GET", "HEAD", "get"] {
            #expect(!post.requiresKey(method: method), "\(method)")
        }
        let get = APIKeyMethods.only(["GET"])
        for method in ["GET", "get", "HEAD", "head"] {
            #expect(get.requiresKey(method: method), "\(method): HEAD needs a key when GET does")
        }
        #expect(!get.requiresKey(method: "OPTIONS"))
        // HEAD follows GET when GET is not exempt either.
        #expect(APIKeyMethods.allExcept(["HEAD", "OPTIONS"]).requiresKey(method: "HEAD"))
        #expect(!APIKeyMethods.allExcept(["GET", "HEAD"]).requiresKey(method: "HEAD"))
    }

    @Test func keysOffNeedNone() {
        #expect(!APIKeySettings().requiresKey(method: "FOO"))
        #expect(APIKeySettings(enabled: true).requiresKey(method: "FOO"))
        #expect(APIKeySettings().methods == .writes)
    }

    @Test func parsingAndText() throws {
        #expect(try APIKeyMethods.parse(["writes"]).get() == .writes)
        #expect(try APIKeyMethods.parse(["WRITES", "Writes"]).get() == .writes)
        #expect(try APIKeyMethods.parse(["post", "Put", "POST"]).get() == .only(["POST", "PUT"]))
        #expect(APIKeyMethods.writes.description == "writes (every method except GET,HEAD,OPTIONS)")
        #expect(APIKeyMethods.only(["PUT", "POST"]).description == "POST,PUT")
        #expect(APIKeyMethods.allExcept(["GET"]).description == "every method except GET")
        let cases: [([String], String)] = [
            (["writes", "POST"], "writes stands alone"),
            ([], "no methods"),
            (["PO ST"], #""PO ST" is not an HTTP method"#),
            ([""], #""" is not an HTTP method"#),
        ]
        for (items, message) in cases {
            guard case .failure(let problem) = APIKeyMethods.parse(items) else {
                Issue.record("\(items) was accepted")
                continue
            }
            #expect(problem.message.contains(message), "\(items): \(problem.message)")
        }
    }

    @Test func theFlagAndTheConfigGiveTheDefaultOrTheList() throws {
        #expect(try parse(["-api-keys"]).apiKeys.methods == .writes)
        #expect(try parse(["-api-keys", "-api-key-methods", "writes"]).apiKeys.methods == .writes)
        #expect(try parse(["-api-keys", "-api-key-methods", "post, put,"]).apiKeys.methods == .only(["POST", "PUT"]))
        #expect(try parse(["-proxy-config", #"{"api_keys": {}}"#]).apiKeys == APIKeySettings(enabled: true, methods: .writes))
        #expect(try parse(["-proxy-config", #"{"api_keys": {"methods": "writes"}}"#]).apiKeys.methods == .writes)
        #expect(try parse(["-proxy-config", #"{"api_keys": {"methods": ["writes"]}}"#]).apiKeys.methods == .writes)
        #expect(try parse(["-proxy-config", #"{"api_keys": {"methods": ["POST", "merge"]}}"#]).apiKeys.methods == .only(["POST", "MERGE"]))
        let flag = failure(["-api-keys", "-api-key-methods", "writes,POST"])
        #expect(flag?.flag == "api-key-methods", "\(String(describing: flag))")
        #expect(flag?.message.contains("writes stands alone") == true, "\(String(describing: flag))")
        let json = failure(["-proxy-config", #"{"api_keys": {"methods": ["PO ST"]}}"#])
        #expect(json?.message.contains(#"field "api_keys.methods""#) == true, "\(String(describing: json))")
        #expect(json?.message.contains("not an HTTP method") == true, "\(String(describing: json))")
        #expect(failure(["-proxy-config", #"{"api_keys": {"methods": 3}}"#])?.message.contains("api_keys.methods") == true)
    }
}
