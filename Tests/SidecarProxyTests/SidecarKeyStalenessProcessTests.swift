import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing

// MARK: - A revoked key gets no write through, and reads trust keys only a bounded time

/// Each node's inbound Raft traffic goes through a ``PortRelay`` that can hold it back, so a
/// test can make one node hear the leader late (a lagging follower) or not at all (cut off),
/// while its sidecar, node API and gossip stay reachable.
@Suite("disco-sidecar: a revoked key gets no write through a lagging sidecar; keyed reads need a recent leader", .serialized)
struct SidecarKeyStalenessProcessTests {
    static let key = "a-key-of-enough-length"
    static let credentials: HTTPHeaders = ["app_id": "app1", "app_key": key]

    /// Adds `app1`'s key through `node` and waits until `proxy` accepts it for `method`.
    static func addKey(through node: DiscodProcess, acceptedAt proxy: String, method: String, client: HTTPClient,
                       watching nodes: [DiscodProcess]) async throws {
        let added = try await node.request("POST", "/keys", body: #"{"app_id":"app1","app_key":"\#(key)"}"#, timeout: .seconds(30))
        #expect(added.status == 201 || added.status == 202, "\(added.text)")
        try await DiscodCluster.waitUntil("\(proxy) to accept the new key for \(method)", watching: nodes) {
            (try? await client.send(HTTPClientRequest(method: method, url: proxy + "/tx", headers: credentials, body: method == "GET" ? [] : [1])))?
                .status == 200
        }
    }

    /// With `-hot-cold` the writer is the hot replica, which may be a Raft follower that applies
    /// the cluster's changes late. Its sidecar passes writes to its own upstream, so its check of
    /// the key is the one that counts: it must hold every revocation answered before the write
    /// arrived, not trust its lagging copy (it confirms with the leader's read index first).
    @Test func aKeyRevokedAtTheLeaderIsRefusedAtOnceByALaggingHotReplica() async throws {
        // A long lease, so the hot stays hot while it hears of its renewals late.
        let flags = ["-hot-cold", "-hot-cold-group", "orders", "-lease-ttl", "30s", "-lease-renew-deadline", "20s", "-lease-renew", "500ms"]
        try await LaggingSidecarCluster.with("sidecar-key-stale-hot", flags: flags) { nodes, proxyPorts, relays, upstream in
            var leader = try await DiscodCluster.waitForLeader(nodes)
            for (index, node) in nodes.enumerated() { try await waitForProxy(port: proxyPorts[index], process: node) }
            var hotID: String?
            try await DiscodCluster.waitUntil("a hot replica", watching: nodes) {
                hotID = (try? await nodes[0].request("GET", "/hot"))?.json?["hot"]?.stringValue
                return hotID != nil
            }
            let hot = try #require(nodes.firstIndex { $0.nodeID == hotID })
            // The hot must be a follower. Leadership may also move on its own meanwhile (a loaded
            // machine): poll until every node names one leader other than the hot, asking the hot
            // to hand leadership to any other voter while some node still names it.
            let hotNode = nodes[hot]
            var agreed: String?
            try await DiscodCluster.waitUntil("every node to follow a leader other than the hot \(hotNode.nodeID)", watching: nodes) {
                var named: Set<String> = []
                for node in nodes { named.insert((try? await node.request("GET", "/leader"))?.json?["id"]?.stringValue ?? "") }
                if named.count == 1, let only = named.first, !only.isEmpty, only != hotNode.nodeID {
                    agreed = only
                    return true
                }
                if named.contains(hotNode.nodeID) { _ = try? await hotNode.request("POST", "/leader/transfer", timeout: .seconds(30)) }
                return false
            }
            leader = try #require(agreed)
            try #require(leader != nodes[hot].nodeID, "the hot replica \(nodes[hot].nodeID) still leads")
            let leaderNode = try #require(nodes.first { $0.nodeID == leader })

            let client = HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(30)))
            let proxy = "http://127.0.0.1:\(proxyPorts[hot])"
            try await Self.addKey(through: leaderNode, acceptedAt: proxy, method: "POST", client: client, watching: nodes)

            // The hot hears the leader 1 s late from now on (it keeps its lease, and its leader
            // once the delayed traffic flows): it applies a key added after that 1 s late. The
            // write below comes milliseconds after the revocation, so the hot's own copy still
            // lets the key through; the lag stays well under the writer's 5 s wait to apply
            // (its Raft traffic now takes the relay both ways, a round trip of twice the lag).
            relays[hot].setLag(.seconds(1))
            let marker = try await leaderNode.request("POST", "/keys", body: #"{"app_id":"marker"}"#, timeout: .seconds(30))
            #expect(marker.status == 201, "\(marker.text)")
            try await DiscodCluster.waitUntil("\(nodes[hot].nodeID) to apply a change through the lag", watching: nodes) {
                (try? await nodes[hot].request("GET", "/keys"))?.text.contains("marker") == true
            }
            // A loaded machine may cost the leader its leadership for a moment: the answer then
            // says nothing was written, and the revocation is asked again.
            var revoked = try await leaderNode.request("DELETE", "/keys/app1", timeout: .seconds(30))
            try await DiscodCluster.waitUntil("the key to be revoked", watching: nodes) {
                if revoked.status == 503, revoked.text.contains("nothing was written") {
                    revoked = try await leaderNode.request("DELETE", "/keys/app1", timeout: .seconds(30))
                }
                return revoked.status != 503 || !revoked.text.contains("nothing was written")
            }
            #expect(revoked.status == 200, "\(revoked.text)")
            let writesBefore = upstream.requests.filter { $0.method == "POST" }.count

            let write = try await client.send(HTTPClientRequest(method: "POST", url: proxy + "/tx", headers: Self.credentials, body: [1]))
            #expect(write.status == 403, "a write with a key revoked at the leader passed the lagging hot replica: \(write.status) \(write.bodyText)")
            #expect(write.bodyText.contains("revoked"), "\(write.bodyText)")
            #expect(upstream.requests.filter { $0.method == "POST" }.count == writesBefore, "a write with the revoked key reached the upstream")
            await client.shutdown()
        }
    }

    /// A follower cut off from the leader never hears of a revocation. A write with the revoked
    /// key through its sidecar goes to the writer, which refuses it (or, once the follower has
    /// lost its leader, it cannot be routed); a read that needs a key is served from its stale
    /// copy only until it has heard nothing from the leader for the bound, then refused (503)
    /// with a JSON error saying why.
    @Test func aFollowerCutOffFromTheLeaderRefusesTheRevokedKeyForWritesAndKeyedReadsOnceTheBoundPassed() async throws {
        try await LaggingSidecarCluster.with("sidecar-key-stale-cut", flags: ["-api-key-methods", "POST,GET"]) { nodes, proxyPorts, relays, upstream in
            let leader = try await DiscodCluster.waitForLeader(nodes)
            for (index, node) in nodes.enumerated() { try await waitForProxy(port: proxyPorts[index], process: node) }
            let index = try #require(nodes.firstIndex { $0.nodeID != leader })
            let leaderNode = try #require(nodes.first { $0.nodeID == leader })
            let client = HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(30)))
            let proxy = "http://127.0.0.1:\(proxyPorts[index])"
            try await Self.addKey(through: leaderNode, acceptedAt: proxy, method: "POST", client: client, watching: nodes)
            try await Self.keyAccepted(at: proxy, method: "GET", client: client, watching: nodes)

            // Cut off: nothing the others send reaches the follower any more.
            relays[index].setLag(.seconds(3600))
            // A loaded machine may cost the leader its leadership for a moment: the answer then
            // says nothing was written, and the revocation is asked again.
            var revoked = try await leaderNode.request("DELETE", "/keys/app1", timeout: .seconds(30))
            try await DiscodCluster.waitUntil("the key to be revoked", watching: nodes) {
                if revoked.status == 503, revoked.text.contains("nothing was written") {
                    revoked = try await leaderNode.request("DELETE", "/keys/app1", timeout: .seconds(30))
                }
                return revoked.status != 503 || !revoked.text.contains("nothing was written")
            }
            #expect(revoked.status == 200, "\(revoked.text)")
            let writesBefore = upstream.requests.filter { $0.method == "POST" }.count

            let write = try await client.send(HTTPClientRequest(method: "POST", url: proxy + "/tx", headers: Self.credentials, body: [1]))
            #expect(write.status == 403 || write.status == 503, "a write with a revoked key passed a cut-off follower: \(write.status) \(write.bodyText)")
            #expect(upstream.requests.filter { $0.method == "POST" }.count == writesBefore, "a write with the revoked key reached the upstream")

            var refusal: HTTPClientResponse?
            try await DiscodCluster.waitUntil("\(nodes[index].nodeID)'s sidecar to refuse keyed reads once it has not heard from the leader "
                                              + "for the bound", watching: nodes) {
                let read = try? await client.send(HTTPClientRequest(method: "GET", url: proxy + "/data", headers: Self.credentials))
                if read?.status == 503 { refusal = read }
                return refusal != nil
            }
            let json = try JSONValue.parse(try #require(refusal).body)
            #expect(json["reason"]?.stringValue == "stale", "\(json)")
            #expect(json["error"]?.stringValue?.contains("has not heard from the Raft leader") == true, "\(json)")
            await client.shutdown()
        }
    }

    /// Waits until `proxy` accepts `app1`'s key for `method`.
    static func keyAccepted(at proxy: String, method: String, client: HTTPClient, watching nodes: [DiscodProcess]) async throws {
        try await DiscodCluster.waitUntil("\(proxy) to accept the key for \(method)", watching: nodes) {
            (try? await client.send(HTTPClientRequest(method: method, url: proxy + "/data", headers: credentials)))?.status == 200
        }
    }
}
