import DiscoCore
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

// MARK: - Three sidecars whose nodes can be made to hear the leader late

enum LaggingSidecarCluster {
    /// Three sidecars with `-api-keys` (and `flags`), each node's inbound Raft traffic (and
    /// gossip) through a ``PortRelay`` its `-raft-adv-addr` names, whose ``PortRelay/setLag(_:)``
    /// delays Raft; `body` gets them, their proxy ports, the relays and the upstream.
    static func with(_ name: String, flags: [String],
                     _ body: ([DiscodProcess], [UInt16], [PortRelay], RecordingUpstream) async throws -> Void) async throws {
        try await DiscodCluster.with(name) { cluster in
            let upstream = try await RecordingUpstream.start(name: "svc")
            let ports = try DiscodCluster.ports(count: 3)
            let proxyPorts = try (0..<3).map { _ in try FreePort.loopback() }
            var relays: [PortRelay] = []
            for index in 0..<3 { relays.append(try await PortRelay.start(to: ports[index].raft)) }
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
