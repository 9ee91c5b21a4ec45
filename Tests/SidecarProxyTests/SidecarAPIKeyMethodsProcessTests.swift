import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing

// MARK: - The methods -api-keys covers by default

/// With `-upstream` alone, GET, HEAD and OPTIONS go to the local upstream and every other method
/// to the writer. `-api-keys` needed a key only for POST, PUT, PATCH and DELETE, so a `FOO` or a
/// `PROPPATCH` reached the writer's upstream without one: an upstream that takes every method
/// but GET as a write took an anonymous write. By default every method except GET, HEAD and
/// OPTIONS now needs a key; a list given with `-api-key-methods` is kept as given.
@Suite("disco-sidecar: -api-keys covers every method the default routes send to the writer", .serialized)
struct SidecarAPIKeyMethodsProcessTests {
    /// Runs one `disco-sidecar` in front of a recording upstream with `-api-keys` and `flags`.
    func withSidecar(_ name: String, flags: [String],
                     _ body: (_ proxy: String, _ client: HTTPClient, _ upstream: RecordingUpstream) async throws -> Void) async throws {
        try await DiscodCluster.with(name) { cluster in
            let upstream = try await RecordingUpstream.start(name: "svc")
            let proxyPort = try FreePort.loopback()
            let node = try startSidecar(cluster, id: "n1", ports: try DiscodCluster.ports(), flags: [
                "-proxy-addr", "127.0.0.1:\(proxyPort)", "-upstream", "http://\(upstream.address)", "-upstream-health-interval", "0s", "-api-keys",
            ] + flags)
            try await waitForProxy(port: proxyPort, process: node)
            let client = HTTPClient()
            try await body("http://127.0.0.1:\(proxyPort)", client, upstream)
            await client.shutdown()
            await node.kill()
            await upstream.stop()
        }
    }

    @Test func byDefaultAnyMethodButGetHeadAndOptionsNeedsAKey() async throws {
        try await withSidecar("sidecar-key-methods-default", flags: []) { proxy, client, upstream in
            for method in ["FOO", "PROPPATCH", "MERGE", "get"] {
                let answer = try await client.send(HTTPClientRequest(method: method, url: proxy + "/x", body: Array("{}".utf8)))
                #expect(answer.status == 401, "\(method) without a key: \(answer.status) \(answer.bodyText)")
            }
            #expect(upstream.requests.isEmpty, "a request without a key reached the upstream: \(upstream.requests.map(\.method))")
            for method in ["GET", "HEAD", "OPTIONS"] {
                let answer = try await client.send(HTTPClientRequest(method: method, url: proxy + "/x"))
                #expect(answer.status == 200, "\(method) needs no key: \(answer.status) \(answer.bodyText)")
            }
            #expect(upstream.requests.map(\.method) == ["GET", "HEAD", "OPTIONS"])
        }
    }

    @Test func anExplicitListIsKeptAsGiven() async throws {
        try await withSidecar("sidecar-key-methods-post", flags: ["-api-key-methods", "POST"]) { proxy, client, upstream in
            let post = try await client.send(HTTPClientRequest(method: "POST", url: proxy + "/x", body: [1]))
            #expect(post.status == 401, "POST without a key: \(post.status) \(post.bodyText)")
            let put = try await client.send(HTTPClientRequest(method: "PUT", url: proxy + "/x", body: [1]))
            #expect(put.status == 200, "PUT is not listed, so it needs no key: \(put.status) \(put.bodyText)")
            #expect(upstream.requests.map(\.method) == ["PUT"])
        }
    }

    /// `-validate` prints what needs a key, and refuses `writes` mixed with methods.
    @Test func validatePrintsTheMethodsThatNeedAKey() async throws {
        let sidecar = try DiscodProcess.executable("disco-sidecar")
        let base = ["-validate", "-node-id", "n1", "-proxy-addr", ":8080", "-upstream", "http://127.0.0.1:9984", "-api-keys"]
        for (flags, line) in [([String](), "proxy.api_keys=writes (every method except GET,HEAD,OPTIONS)\n"),
                              (["-api-key-methods", "writes"], "proxy.api_keys=writes (every method except GET,HEAD,OPTIONS)\n"),
                              (["-api-key-methods", "post,PUT"], "proxy.api_keys=POST,PUT\n")] {
            let result = try await ChildProcess.run(sidecar, base + flags + ["data"])
            #expect(result.status == 0, "\(flags): \(result.output)")
            #expect(result.output.contains(line), "\(flags): \(result.output)")
        }
        let mixed = try await ChildProcess.run(sidecar, base + ["-api-key-methods", "writes,POST", "data"])
        #expect(mixed.status == 2 && mixed.output.contains("writes stands alone"), "\(mixed.output)")
    }

    /// `-validate` prints the keyed reads' staleness bound; a bad one exits 2 naming the flag.
    @Test func validatePrintsTheMaxStalenessAndRefusesABadOne() async throws {
        let sidecar = try DiscodProcess.executable("disco-sidecar")
        let base = ["-validate", "-node-id", "n1", "-proxy-addr", ":8080", "-upstream", "http://127.0.0.1:9984", "-api-keys"]
        for (flags, line) in [([String](), "proxy.api_key_max_staleness=four election timeouts\n"),
                              (["-api-key-max-staleness", "30s"], "proxy.api_key_max_staleness=30s\n"),
                              (["-api-key-max-staleness", "0"], "proxy.api_key_max_staleness=off\n")] {
            let result = try await ChildProcess.run(sidecar, base + flags + ["data"])
            #expect(result.status == 0, "\(flags): \(result.output)")
            #expect(result.output.contains(line), "\(flags): \(result.output)")
        }
        for value in ["soon", "-2s"] {
            let bad = try await ChildProcess.run(sidecar, base + ["-api-key-max-staleness", value, "data"])
            #expect(bad.status == 2, "\(value): \(bad.output)")
            #expect(bad.output.contains("-api-key-max-staleness") && bad.output.contains("such as 5s"), "\(value): \(bad.output)")
        }
    }
}
