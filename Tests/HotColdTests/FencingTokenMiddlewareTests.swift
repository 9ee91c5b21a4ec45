import DiscoCore
import DiscoNet
import DiscoTestKit
import HotCold
import LeaseCore
import Synchronization
import Testing

/// The fencing middleware in front of a stand-in upstream, through DiscoNet's server and client.
@Suite("Fencing-token middleware")
struct FencingTokenMiddlewareTests {
    /// What the upstream saw of one request.
    struct Seen: Hashable {
        var method: String
        var tokens: [String]
        var states: [String]
    }

    /// A server whose handler is the upstream (it records what reached it) behind the middleware.
    private func withFencedUpstream(_ gate: HotColdGate, _ body: (String, HTTPClient, @escaping () -> [Seen]) async throws -> Void) async throws {
        let seen = Mutex<[Seen]>([])
        let upstream: HTTPHandler = { request in
            seen.withLock {
                $0.append(Seen(method: request.method, tokens: request.headers.values(for: "Disco-Fencing-Token"),
                               states: request.headers.values(for: "Disco-Hot-Cold-State")))
            }
            return .text("upstream saw \(request.method)")
        }
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        let server = try await HTTPServer.start(configuration: configuration, middleware: [FencingTokenMiddleware(gate: gate)], handler: upstream)
        let client = HTTPClient()
        do {
            try await body("http://\(server.localAddress)", client, { seen.withLock { $0 } })
        } catch {
            await client.shutdown()
            await server.shutdown(gracePeriod: .seconds(5))
            throw error
        }
        await client.shutdown()
        await server.shutdown(gracePeriod: .seconds(5))
    }

    private func gate() -> HotColdGate {
        HotColdGate(status: HotColdStatus(group: "orders", node: "a", sinceWallNanoseconds: 0, holder: "b", leaseToken: 9))
    }

    @Test func theHotReplicasRequestsCarryItsTokenAndNeverTheClientsOwn() async throws {
        let gate = gate()
        gate.markHot(token: 7, until: .now + .seconds(600), now: .now, wallNanoseconds: 0)
        try await withFencedUpstream(gate) { base, client, seen in
            let forged: HTTPHeaders = ["Disco-Fencing-Token": "999", "disco-hot-cold-state": "hot"]
            let write = try await client.send(HTTPClientRequest(method: "POST", url: base + "/orders", headers: forged, body: Array("x".utf8)))
            let read = try await client.send(HTTPClientRequest(method: "GET", url: base + "/orders/1", headers: forged))
            #expect(write.status == 200 && read.status == 200)
            #expect(seen() == [Seen(method: "POST", tokens: ["7"], states: ["hot"]), Seen(method: "GET", tokens: ["7"], states: ["hot"])])
        }
    }

    @Test func aColdReplicaRefusesWritesNamingTheHotAndPassesReadsWithoutAToken() async throws {
        let gate = gate()
        try await withFencedUpstream(gate) { base, client, seen in
            let write = try await client.send(HTTPClientRequest(method: "PUT", url: base + "/orders/1", headers: ["Disco-Fencing-Token": "999"]))
            #expect(write.status == 503)
            #expect(write.headers["Retry-After"] == "1")
            let json = try JSONValue.parse(write.body)
            #expect(json["hot"]?.stringValue == "b")
            #expect(json["token"]?.numberValue?.int64Value == 9)
            #expect(json["error"]?.stringValue?.contains("not hot in group orders") == true)
            let read = try await client.send(HTTPClientRequest(method: "GET", url: base + "/orders/1", headers: ["Disco-Fencing-Token": "999"]))
            #expect(read.status == 200)
            // The write never reached the upstream; the read did, marked cold, without any token.
            #expect(seen() == [Seen(method: "GET", tokens: [], states: ["cold"])])
        }
    }

    @Test func aDeadlineThatPassedOrAnUnhealthyUpstreamClosesTheGateForWrites() async throws {
        let gate = gate()
        gate.markHot(token: 7, until: .now - .milliseconds(1), now: .now - .seconds(1), wallNanoseconds: 0)
        try await withFencedUpstream(gate) { base, client, seen in
            let expired = try await client.send(HTTPClientRequest(method: "DELETE", url: base + "/orders/1"))
            #expect(expired.status == 503)
            gate.markHot(token: 8, until: .now + .seconds(600), now: .now, wallNanoseconds: 0)
            let hot = try await client.send(HTTPClientRequest(method: "DELETE", url: base + "/orders/1"))
            #expect(hot.status == 200)
            gate.closeForUnhealthyUpstream(true)
            let unhealthy = try await client.send(HTTPClientRequest(method: "PATCH", url: base + "/orders/1"))
            #expect(unhealthy.status == 503)
            #expect(seen() == [Seen(method: "DELETE", tokens: ["8"], states: ["hot"])])
        }
    }

    @Test func aCustomClassificationDecidesWhatIsAWrite() async throws {
        let gate = gate()
        let middleware = FencingTokenMiddleware(gate: gate) { $0.path.hasPrefix("/rpc/") }
        let calls = Atomic<Int>(0)
        let responder = HTTPResponder { _ in
            calls.add(1, ordering: .relaxed)
            return .text("ok")
        }.wrapped(in: [middleware])
        let rpc = try await responder(HTTPStreamingRequest(method: "GET", target: "/rpc/transfer"))
        let post = try await responder(HTTPStreamingRequest(method: "POST", target: "/search"))
        #expect(rpc.status == 503)
        #expect(post.status == 200)
        #expect(calls.load(ordering: .relaxed) == 1)
    }
}
