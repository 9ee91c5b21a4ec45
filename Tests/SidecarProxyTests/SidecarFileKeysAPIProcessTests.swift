import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - A sidecar checking -api-key-file

/// A one-node `disco-sidecar` in `cluster` requiring keys from an `-api-key-file` that holds
/// `app1` with key `the-key` (`printf %s 'the-key' | sha256sum`), in front of a recording upstream.
func startFileKeyedSidecar(_ cluster: DiscodCluster) async throws -> (node: DiscodProcess, proxyPort: UInt16, upstream: RecordingUpstream) {
    let upstream = try await RecordingUpstream.start(name: "svc")
    let keys = cluster.root + "/keys.json"
    try #"[{"app_id":"app1","app_key_sha256":"ad44dc8e51cfbfa55e81ddbb626b466241069045066846e7e4cd096131505290"}]"#
        .write(toFile: keys, atomically: true, encoding: .utf8)
    let proxyPort = try FreePort.loopback()
    let node = try startSidecar(cluster, id: "n1", ports: try DiscodCluster.ports(), flags: [
        "-proxy-addr", "127.0.0.1:\(proxyPort)", "-upstream", "http://\(upstream.address)", "-api-keys", "-api-key-file", keys,
    ])
    try await waitForProxy(port: proxyPort, process: node)
    return (node, proxyPort, upstream)
}

// MARK: - Key changes a file-keyed sidecar would ignore

@Suite("disco-sidecar: the node API with -api-key-file")
struct SidecarFileKeysAPIProcessTests {
    /// With -api-key-file the sidecar never checks the cluster's keys: the node API must not
    /// confirm a key added there (its sidecar would refuse it) or revoked there (its sidecar would
    /// still accept the file's key).
    @Test func theNodeAPIRefusesKeyChangesItsFileKeyedSidecarWouldIgnore() async throws {
        try await DiscodCluster.with("sidecar-file-keys-api") { cluster in
            let (node, proxyPort, upstream) = try await startFileKeyedSidecar(cluster)
            let added = try await node.request("POST", "/keys", body: #"{"app_id":"app2","app_key":"a-key-of-enough-length"}"#)
            #expect(added.status == 409, "\(added.status) \(added.text)")
            #expect(added.text.contains("-api-key-file"), "\(added.text)")
            let revoked = try await node.request("DELETE", "/keys/app1")
            #expect(revoked.status == 409, "\(revoked.status) \(revoked.text)")
            let client = HTTPClient()
            let write = try await client.send(HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(proxyPort)/tx",
                                                                headers: ["app_id": "app1", "app_key": "the-key"], body: [1]))
            #expect(write.status == 200, "the file's key is still checked: \(write.bodyText)")
            await client.shutdown()
            await upstream.stop()
        }
    }
}
