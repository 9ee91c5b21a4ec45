import DiscoCore
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

// MARK: - A key change answered by a follower holds at its sidecar

@Suite("disco-sidecar: a key added or revoked through a node is in effect at its sidecar once answered", .serialized)
struct SidecarKeyApplyProcessTests {
    /// A follower hears of commits late (its inbound Raft traffic goes through a relay that holds
    /// every byte back a while). A key added through its API must be accepted by its own proxy as
    /// soon as the add is answered, and a key revoked through it refused by its proxy for a read
    /// it serves itself (the writer checks writes again, but reads never reach the writer).
    @Test func aKeyChangeAnsweredByALaggingFollowerHoldsAtItsOwnSidecar() async throws {
        try await DiscodCluster.with("sidecar-key-apply") { cluster in
            let upstream = try await RecordingUpstream.start(name: "svc")
            let ports = try DiscodCluster.ports(count: 3)
            let proxyPorts = try (0..<3).map { _ in try FreePort.loopback() }
            var relays: [LaggingRelay] = []
            for index in 0..<3 { relays.append(try await LaggingRelay.start(to: ports[index].raft)) }
            let join = ports.map { "http://127.0.0.1:\($0.http)" }.joined(separator: ",")
            var nodes: [DiscodProcess] = []
            for index in 0..<3 {
                nodes.append(try startSidecar(cluster, id: "n\(index + 1)", ports: ports[index], flags: [
                    "-raft-adv-addr", "127.0.0.1:\(relays[index].port)", "-bootstrap-expect", "3", "-join", join,
                    "-proxy-addr", "127.0.0.1:\(proxyPorts[index])", "-upstream", "http://\(upstream.address)",
                    "-upstream-health-interval", "0s", "-api-keys", "-api-key-methods", "POST,GET",
                ]))
            }
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
            for node in nodes { await node.kill() }
            for relay in relays { relay.stop() }
            await upstream.stop()
        }
    }
}

// MARK: - LaggingRelay

/// A TCP relay to a node's Raft port that can deliver every byte late, in order (``setLag(_:)``):
/// the node then hears of the leader's commits that much later, as a follower on a slow link.
final class LaggingRelay: Sendable {
    private let listener: TCPListener
    private let lag = Atomic<Int64>(0)
    private let task = Mutex<Task<Void, Never>?>(nil)

    private init(listener: TCPListener) {
        self.listener = listener
    }

    /// A relay on a free loopback port to `127.0.0.1:port`.
    static func start(to port: UInt16) async throws -> LaggingRelay {
        let relay = LaggingRelay(listener: try await TCPListener.bind(host: "127.0.0.1", port: 0))
        let task = Task { await relay.run(to: port) }
        relay.task.withLock { $0 = task }
        return relay
    }

    /// The relay's port (advertise `127.0.0.1:<port>`).
    var port: UInt16 { listener.localAddress.port }

    /// From now on, bytes are passed on `lag` after they arrived.
    func setLag(_ lag: Duration) {
        self.lag.store(Milliseconds.of(lag), ordering: .relaxed)
    }

    /// Stops listening and ends every relayed connection.
    func stop() {
        listener.close()
        task.withLock { $0 }?.cancel()
    }

    private func run(to port: UInt16) async {
        await withDiscardingTaskGroup { group in
            while let inbound = try? await listener.accept() {
                group.addTask {
                    guard let outbound = try? await TCPConnection.connect(host: "127.0.0.1", port: port) else {
                        inbound.close()
                        return
                    }
                    await withTaskCancellationHandler {
                        await withDiscardingTaskGroup { pumps in
                            pumps.addTask { await self.pump(from: inbound, to: outbound) }
                            pumps.addTask { await self.pump(from: outbound, to: inbound) }
                        }
                    } onCancel: {
                        inbound.close()
                        outbound.close()
                    }
                    inbound.close()
                    outbound.close()
                }
            }
        }
    }

    /// Reads `source` and writes each piece to `sink` once it is ``lag`` old (a reader and a
    /// writer, so pieces are not held back behind each other's waits).
    private func pump(from source: TCPConnection, to sink: TCPConnection) async {
        let (pieces, arrived) = AsyncStream.makeStream(of: (ContinuousClock.Instant, [UInt8]).self)
        await withDiscardingTaskGroup { group in
            group.addTask {
                while let bytes = try? await source.read() {
                    arrived.yield((ContinuousClock.now + .milliseconds(self.lag.load(ordering: .relaxed)), bytes))
                }
                arrived.finish()
            }
            group.addTask {
                for await (due, bytes) in pieces {
                    try? await Task.sleep(until: due, clock: .continuous)
                    do { try await sink.write(bytes) } catch { break }
                }
                sink.shutdownWrite()
            }
        }
    }
}

private enum Milliseconds {
    static func of(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
