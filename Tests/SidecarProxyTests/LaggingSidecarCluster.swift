import DiscoCore
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

// MARK: - Three sidecars whose nodes can be made to hear the leader late

enum LaggingSidecarCluster {
    /// Three sidecars with `-api-keys` (and `flags`), each node's inbound Raft traffic through a
    /// ``LaggingRelay``; `body` gets them, their proxy ports, the relays and the upstream.
    static func with(_ name: String, flags: [String],
                     _ body: ([DiscodProcess], [UInt16], [LaggingRelay], RecordingUpstream) async throws -> Void) async throws {
        try await DiscodCluster.with(name) { cluster in
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
                    "-upstream-health-interval", "0s", "-api-keys",
                ] + flags))
            }
            do {
                try await body(nodes, proxyPorts, relays, upstream)
            } catch {
                for node in nodes { await node.kill() }
                for relay in relays { relay.stop() }
                await upstream.stop()
                throw error
            }
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
