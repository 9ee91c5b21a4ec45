import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - app_id values and DELETE /keys/{app_id}

@Suite("disco-sidecar: an app_id names one key in the node API's paths")
struct SidecarKeyNameProcessTests {
    /// `DELETE /keys/{app_id}` carries the app_id in the request's path, where `?` starts the
    /// query (and `#` a fragment, `%` an escape): an app_id holding one could never be revoked,
    /// and its revocation would revoke another application's key instead (`app1?x` revoked
    /// `app1`). Such app_ids are refused, and so is a revocation whose target has a query.
    @Test func anAppIDThatAPathCannotCarryIsRefusedAndNoRevocationHitsAnotherKey() async throws {
        try await DiscodCluster.with("sidecar-key-names") { cluster in
            let upstream = try await RecordingUpstream.start(name: "svc")
            let proxyPort = try FreePort.loopback()
            let node = try startSidecar(cluster, id: "n1", ports: try DiscodCluster.ports(), flags: [
                "-proxy-addr", "127.0.0.1:\(proxyPort)", "-upstream", "http://\(upstream.address)", "-api-keys",
            ])
            try await waitForProxy(port: proxyPort, process: node)
            let key = "the-key-of-app1-long-enough"
            let added = try await node.request("POST", "/keys", body: #"{"app_id":"app1","app_key":"\#(key)"}"#)
            #expect(added.status == 201, "\(added.text)")
            for appID in ["app1?x", "app1#x", "app1%3Fx"] {
                let odd = try await node.request("POST", "/keys", body: #"{"app_id":"\#(appID)","app_key":"another-key-long-enough"}"#)
                #expect(odd.status == 400, "app_id \(appID): \(odd.status) \(odd.text)")
            }
            let revoke = try await node.request("DELETE", "/keys/app1?x")
            #expect(revoke.status == 400, "\(revoke.status) \(revoke.text)")
            let listed = try await firstAnswer("GET /keys on node \(node.nodeID)") { try await node.request("GET", "/keys") }
            #expect(listed.text.contains(#"{"app_id":"app1","revoked":false}"#), "\(listed.text)")
            // POST and GET /keys take no query either: it was ignored (`?app_id=app2` added the body's app_id).
            let queriedAdd = try await node.request("POST", "/keys?app_id=app2", body: #"{"app_id":"app3"}"#)
            #expect(queriedAdd.status == 400 && queriedAdd.text.contains(#"POST /keys takes no query (got \"app_id\")"#),
                    "\(queriedAdd.status) \(queriedAdd.text)")
            let queriedList = try await firstAnswer("GET /keys?revoked=false on node \(node.nodeID)") { try await node.request("GET", "/keys?revoked=false") }
            #expect(queriedList.status == 400 && queriedList.text.contains(#"GET /keys takes no query (got \"revoked\")"#),
                    "\(queriedList.status) \(queriedList.text)")
            #expect(try await firstAnswer("GET /keys on node \(node.nodeID)") { try await node.request("GET", "/keys") }.text.contains("app3") == false)

            let client = HTTPClient()
            let write = try await client.send(HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(proxyPort)/tx",
                                                                headers: ["app_id": "app1", "app_key": key], body: [1]))
            #expect(write.status == 200, "app1's key still works: \(write.status) \(write.bodyText)")
            await client.shutdown()
            await upstream.stop()
        }
    }

    /// An `app_key` travels in a header, whose value loses surrounding spaces and tabs and cannot
    /// hold a line break or other control character: a key like that was stored (201) but no
    /// request could ever present it, so every request with it was refused as "wrong". Such keys
    /// are refused when added; a key with spaces inside still works. A body that is not JSON is
    /// refused saying why and where.
    @Test func anAppKeyThatAHeaderCannotCarryIsRefusedWhenAdded() async throws {
        try await DiscodCluster.with("sidecar-key-values") { cluster in
            let upstream = try await RecordingUpstream.start(name: "svc")
            let proxyPort = try FreePort.loopback()
            let node = try startSidecar(cluster, id: "n1", ports: try DiscodCluster.ports(), flags: [
                "-proxy-addr", "127.0.0.1:\(proxyPort)", "-upstream", "http://\(upstream.address)", "-api-keys",
            ])
            try await waitForProxy(port: proxyPort, process: node)
            for (index, key) in [#"  padded-with-spaces-key  "#, #"tab-at-the-end-of-key\t"#, #"line\nbreak-inside-the-key"#,
                                 #"nul\u0000inside-the-key-x"#].enumerated() {
                let odd = try await node.request("POST", "/keys", body: #"{"app_id":"odd\#(index)","app_key":"\#(key)"}"#)
                #expect(odd.status == 400, "app_key \(key): \(odd.status) \(odd.text)")
                #expect(odd.text.contains("app_key"), "\(odd.text)")
            }
            // A body that is not JSON, or gives a key twice, is refused naming what and where, as
            // the node's own endpoints do (it was answered with the usage alone, so a duplicate
            // app_id read like a malformed body).
            for (body, words) in [(#"{"app_id":"app1","app_id":"app2"}"#, #"duplicate key "app_id" in object at line 1, column"#),
                                  (#"{"app_id":"app1""#, "found end of input at line 1, column 17")] {
                let refused = try await node.request("POST", "/keys", body: body)
                let error = (try? JSONValue.parse(Array(refused.text.utf8)))?["error"]?.stringValue ?? ""
                #expect(refused.status == 400 && error.contains(words), "\(body): \(refused.status) \(refused.text)")
                #expect(error.contains(#"{"app_id":"app1"}"#), "\(body): \(refused.text)")
            }
            let key = "a key with spaces inside it"
            let added = try await node.request("POST", "/keys", body: #"{"app_id":"app1","app_key":"\#(key)"}"#)
            #expect(added.status == 201, "\(added.text)")
            let client = HTTPClient()
            let write = try await client.send(HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(proxyPort)/tx",
                                                                headers: ["app_id": "app1", "app_key": key], body: [1]))
            #expect(write.status == 200, "\(write.status) \(write.bodyText)")
            await client.shutdown()
            await upstream.stop()
        }
    }
}
