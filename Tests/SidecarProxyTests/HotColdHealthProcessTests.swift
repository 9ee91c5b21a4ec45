import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing

// MARK: - Health counts every upstream

/// Each replica fronts two upstreams: its service (`local`, where writes go) and a second one
/// (`cache`, reads under `/cache/` only). A replica is eligible to be hot only while every named
/// upstream passes its checks, so a sick `cache` makes the hot step down even though writes
/// never go there.
@Suite("disco-sidecar -hot-cold: health counts every upstream", .serialized)
struct HotColdHealthProcessTests {
    @Test func aSickUpstreamOutsideTheWriteRouteMakesTheHotStepDown() async throws {
        var caches: [HTTPServer] = []
        for index in 0..<3 {
            caches.append(try await HTTPServer.start(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0)) { _ in
                .text("cache of r\(index + 1)")
            })
        }
        let cachePorts = caches.map(\.localAddress.port)
        do {
            try await HotColdSidecarProcessTests.withGroup("sidecar-hot-sick-cache", nodeFlags: { index in
                ["-proxy-config", """
                    {"upstreams": {"cache": "http://127.0.0.1:\(cachePorts[index])"},
                     "routes": [{"name": "cache", "methods": ["GET"], "path": "/cache/", "upstream": "cache"},
                                {"name": "reads", "methods": ["GET", "HEAD", "OPTIONS"], "path": "/", "upstream": "local"},
                                {"name": "writes", "path": "/", "upstream": "local", "writer": true}]}
                    """]
            }) { group in
                let first = try await group.waitForHot(among: [0, 1, 2], above: 0)
                try await group.waitForWritesAccepted(through: [0, 1, 2], by: first.index, token: first.token, label: "first")
                let cached = try await group.client.send(HTTPClientRequest(url: group.proxy(first.index) + "/cache/x"))
                #expect(cached.bodyText == "cache of r\(first.index + 1)", "the cache route reaches the cache upstream")

                // The hot's cache stops; its service (the write route's upstream) keeps answering.
                await caches[first.index].shutdown(gracePeriod: .zero)
                let second = try await group.waitForHot(among: [0, 1, 2], above: first.token)
                #expect(second.index != first.index)
                try await group.waitForWritesAccepted(through: [0, 1, 2], by: second.index, token: second.token, label: "after-sick-cache")
                let answer = try await firstAnswer("GET /hot on the first hot") { try await group.nodes[first.index].request("GET", "/hot") }
                #expect(answer.json?["healthy"]?.boolValue == false, "\(answer.text)")
                #expect(answer.json?["state"]?.stringValue == "cold", "\(answer.text)")
                #expect(answer.json?["reason"]?.stringValue == "unhealthy", "\(answer.text)")
                let read = try await group.client.send(HTTPClientRequest(url: group.proxy(first.index) + "/orders"))
                #expect(read.bodyText == "r\(first.index + 1) read state=cold", "its service still serves its reads: \(read.bodyText)")
                #expect(group.store.violations.isEmpty, "\(group.store.violations)")
            }
        } catch {
            for cache in caches { await cache.shutdown(gracePeriod: .zero) }
            throw error
        }
        for cache in caches { await cache.shutdown(gracePeriod: .zero) }
    }
}
