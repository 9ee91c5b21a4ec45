import DiscoCore
import Sidecar
import Testing

extension RouteMatcher {
    /// The match for a method and path given as strings (the proxy passes their bytes).
    func firstMatch(method: String, path: String) -> Int? {
        Array(method.utf8).withUnsafeBufferPointer { method in
            Array(path.utf8).withUnsafeBufferPointer { path in firstMatch(method: method, path: path) }
        }
    }
}

@Suite("Sidecar: routes compiled for matching bytes")
struct RouteMatcherTests {
    /// With a Kelvin sign (U+212A), canonically equivalent to `K` as text but not the same bytes.
    static let methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "TRACE", "PURGE", "M-SEARCH", "get", "GETS",
                          "G", "K", "\u{212A}"]
    static let prefixes = ["/", "/api", "/api/", "/api/v1/tx", "/static", "", "/a?b", "/é"]
    static let paths = ["/", "/api", "/api/v1/tx/1", "/apiary", "/static/x.css", "", "/a?b", "/é/x", "/ap", "/API"]

    /// Random tables and requests: the compiled matcher picks the route the table picks.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func picksTheRouteTheTablePicks(seed: UInt64) {
        var random = DeterministicRandom(seed: seed)
        func pick<T>(_ list: [T]) -> T { list[Int(random.next() % UInt64(list.count))] }
        var matched = 0
        for _ in 0..<300 {
            let routes = (0..<(1 + Int(random.next() % 5))).map { index in
                let methods: Set<String>? = random.next() % 4 == 0 ? nil : Set((0..<(1 + Int(random.next() % 4))).map { _ in pick(Self.methods) })
                return ProxyRoute(name: "r\(index)", methods: methods, pathPrefix: pick(Self.prefixes), target: RouteTarget(upstream: "u"))
            }
            let table = RouteTable(routes)
            let matcher = RouteMatcher(table)
            for _ in 0..<20 {
                let method = pick(Self.methods)
                let path = pick(Self.paths)
                let expected = table.firstMatch(method: method, path: path)
                #expect(matcher.firstMatch(method: method, path: path) == expected, "\(method) \(path) in \(routes)")
                if expected != nil { matched += 1 }
            }
        }
        #expect(matched > 1_000 && matched < 5_500, "matched \(matched) of 6,000")
    }

    @Test func theDefaultsSendReadsToTheFirstRouteAndTheRestToTheSecond() {
        let matcher = RouteMatcher(RouteTable(ProxyRoute.defaults(upstream: "local")))
        for method in ["GET", "HEAD", "OPTIONS"] { #expect(matcher.firstMatch(method: method, path: "/x") == 0) }
        for method in ["POST", "DELETE", "PURGE", "get"] { #expect(matcher.firstMatch(method: method, path: "/x") == 1) }
    }
}
