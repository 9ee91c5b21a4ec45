import Sidecar
import Testing

@Suite("Sidecar: routing decisions")
struct RouteTableTests {
    let defaults = RouteTable(ProxyRoute.defaults(upstream: "local"))
    let healthy: (String) -> Bool = { _ in true }

    @Test func readsGoToTheLocalUpstreamAndWritesToTheWriter() {
        let writer = WriterLocation.remote(address: "10.0.0.2:8080", id: "n2")
        for method in ["GET", "HEAD", "OPTIONS"] {
            guard case .forward(_, .local(let upstream)) = defaults.decide(method: method, path: "/x", hopped: false, writer: writer, isHealthy: healthy) else {
                Issue.record("\(method) was not sent to the local upstream")
                continue
            }
            #expect(upstream == "local")
        }
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let decision = defaults.decide(method: method, path: "/x", hopped: false, writer: writer, isHealthy: healthy)
            #expect(decision == .forward(route: defaults.routes[1], destination: .writer(address: "10.0.0.2:8080", id: "n2", upstream: "local")),
                    "\(method): \(decision)")
        }
    }

    @Test func theWriterSendsWritesToItsOwnUpstream() {
        let decision = defaults.decide(method: "POST", path: "/", hopped: false, writer: .local, isHealthy: healthy)
        #expect(decision == .forward(route: defaults.routes[1], destination: .local(upstream: "local")))
    }

    @Test func aRequestFromAnotherSidecarIsNeverForwardedAgain() {
        // This sidecar believes another node is the writer (its view is stale), but the request
        // already hopped once: it goes to the local upstream instead of looping.
        let decision = defaults.decide(method: "POST", path: "/", hopped: true, writer: .remote(address: "10.0.0.1:8080", id: "n1"),
                                       isHealthy: healthy)
        #expect(decision == .forward(route: defaults.routes[1], destination: .local(upstream: "local")))
    }

    @Test func writesWithoutAKnownWriterAreRefusedWithTheReason() {
        let decision = defaults.decide(method: "DELETE", path: "/a", hopped: false, writer: .unknown(reason: "no leader"), isHealthy: healthy)
        guard case .refuse(let status, let message) = decision else {
            Issue.record("expected a refusal, got \(decision)")
            return
        }
        #expect(status == 503)
        #expect(message.contains("no leader"))
    }

    @Test func anUnhealthyUpstreamIsNotRoutedTo() {
        let decision = defaults.decide(method: "GET", path: "/", hopped: false, writer: .local, isHealthy: { $0 != "local" })
        #expect(decision == .refuse(status: 503, message: "upstream \"local\" is unhealthy"))
    }

    @Test func routesMatchInOrderByMethodAndPathPrefix() {
        let table = RouteTable([
            ProxyRoute(name: "tx", methods: ["POST"], pathPrefix: "/api/v1/transactions", target: RouteTarget(upstream: "auth")),
            ProxyRoute(name: "reads", methods: ["GET", "HEAD"], pathPrefix: "/", target: RouteTarget(upstream: "service")),
        ])
        #expect(table.route(method: "POST", path: "/api/v1/transactions/abc")?.name == "tx")
        #expect(table.route(method: "GET", path: "/api/v1/transactions")?.name == "reads")
        #expect(table.route(method: "POST", path: "/api/v1/blocks") == nil)
        #expect(table.decide(method: "PUT", path: "/", hopped: false, writer: .local, isHealthy: healthy)
            == .refuse(status: 404, message: "no route for PUT /"))
    }
}

@Suite("Sidecar: retry policy")
struct RetryPolicyTests {
    @Test func onlyIdempotentRequestsThatNeverReachedTheUpstreamAreRetried() {
        let policy = RetryPolicy(maxAttempts: 2)
        #expect(policy.shouldRetry(method: "GET", hasBody: false, failure: .notConnected, attempt: 1))
        #expect(!policy.shouldRetry(method: "GET", hasBody: false, failure: .notConnected, attempt: 2), "attempts are bounded")
        #expect(!policy.shouldRetry(method: "GET", hasBody: false, failure: .mayHaveReachedUpstream, attempt: 1))
        #expect(!policy.shouldRetry(method: "POST", hasBody: false, failure: .notConnected, attempt: 1))
        #expect(!policy.shouldRetry(method: "PUT", hasBody: true, failure: .notConnected, attempt: 1), "a streamed body cannot be sent twice")
        #expect(policy.shouldRetry(method: "DELETE", hasBody: false, failure: .notConnected, attempt: 1))
    }
}
