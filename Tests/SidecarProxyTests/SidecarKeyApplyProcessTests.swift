import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing

// MARK: - A key change answered by a follower holds at its sidecar

@Suite("disco-sidecar: a key added or revoked through a node is in effect at its sidecar once answered", .serialized)
struct SidecarKeyApplyProcessTests {
    /// A follower hears of commits late (its inbound Raft traffic goes through a relay that holds
    /// every byte back a while). A key added through its API must be accepted by its own proxy as
    /// soon as the add is answered, and a key revoked through it refused by its proxy for a read
    /// it serves itself (the writer checks writes again, but reads never reach the writer).
    @Test func aKeyChangeAnsweredByALaggingFollowerHoldsAtItsOwnSidecar() async throws {
        try await LaggingSidecarCluster.with("sidecar-key-apply", flags: ["-api-key-methods", "POST,GET"]) { nodes, proxyPorts, relays, upstream in
            let leader = try await DiscodCluster.waitForLeader(nodes)
            for (index, node) in nodes.enumerated() { try await waitForProxy(port: proxyPorts[index], process: node) }
            let index = try #require(nodes.firstIndex { $0.nodeID != leader })
            let follower = nodes[index]
            // Less than an election timeout (500 ms at least): the follower keeps its leader.
            relays[index].setLag(.milliseconds(250))

            let client = HTTPClient()
            let proxy = "http://127.0.0.1:\(proxyPorts[index])"
            let key = "a-key-of-enough-length"
            let credentials: HTTPHeaders = ["app_id": "app1", "app_key": key]
            let added = try await follower.request("POST", "/keys", body: #"{"app_id":"app1","app_key":"\#(key)"}"#, timeout: .seconds(30))
            #expect(added.status == 201, "\(added.text)")
            let write = try await client.send(HTTPClientRequest(method: "POST", url: proxy + "/tx", headers: credentials, body: [1]))
            #expect(write.status == 200, "the key \(follower.nodeID) answered as added is refused by its sidecar: \(write.bodyText)")

            // Revoked through the follower once it has the key (whatever the add answered).
            try await DiscodCluster.waitUntil("\(follower.nodeID)'s sidecar to accept the new key", watching: nodes) {
                (try? await client.send(HTTPClientRequest(method: "POST", url: proxy + "/tx", headers: credentials, body: [1])))?.status == 200
            }
            let revoked = try await follower.request("DELETE", "/keys/app1", timeout: .seconds(30))
            #expect(revoked.status == 200, "\(revoked.text)")
            let read = try await client.send(HTTPClientRequest(method: "GET", url: proxy + "/data", headers: credentials))
            #expect(read.status == 403, "the key \(follower.nodeID) answered as revoked is accepted by its sidecar: \(read.status) \(read.bodyText)")
            #expect(!upstream.requests.contains { $0.method == "GET" }, "no read with the revoked key reached the upstream")

            await client.shutdown()
        }
    }
}
