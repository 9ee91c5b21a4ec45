import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - TCP pass-through out of file descriptors

@Suite("disco-sidecar: TCP pass-through out of descriptors")
struct TCPPassThroughDescriptorTests {
    /// The sidecar's descriptor limit (`ulimit -n`): a few dozen above what it opens at rest.
    static let descriptorLimit = 96
    /// The limit of the two sidecars a connection goes round between.
    static let roundDescriptorLimit = 192

    /// Open descriptors of process `pid` (nil once it is gone).
    static func openDescriptors(pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// How many times the sidecar logged that its TCP listener on `port` failed to accept.
    static func acceptFailures(in output: String, port: UInt16) -> Int {
        output.split(separator: "\n").count { $0.contains("TCP proxy 127.0.0.1:\(port)=") && $0.contains(": accept failed, retrying") }
    }

    /// Whether a new connection to `port` echoes three bytes within `limit`: false when it is
    /// refused, closed or left unanswered (a listener that no longer accepts).
    static func echoes(port: UInt16, within limit: Duration) async -> Bool {
        guard let connection = try? await TCPConnection.connect(host: "127.0.0.1", port: port) else { return false }
        defer { connection.close() }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                guard (try? await connection.write([7, 8, 9])) != nil else { return false }
                var back: [UInt8] = []
                while back.count < 3, let piece = try? await connection.read() { back += piece }
                return back == [7, 8, 9]
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            // Cancelling a waiting read closes the connection.
            group.cancelAll()
            return first
        }
    }

    /// More connections than the sidecar has descriptors for: accepting fails for a while
    /// (EMFILE). The connection spliced before keeps passing bytes, and once the extra
    /// connections are gone the listener accepts and splices new ones again.
    @Test func runningOutOfDescriptorsNeitherCutsConnectionsNorStopsTheListener() async throws {
        try await DiscodCluster.with("sidecar-tcp-descriptors") { cluster in
            let (echo, echoTask) = try await PassThroughTests.tcpEcho()
            let upstream = try await RecordingUpstream.start(name: "u")
            let proxyPort = try FreePort.loopback()
            var freePort = try FreePort.loopback()
            while freePort == proxyPort { freePort = try FreePort.loopback() }
            let tcpPort = freePort
            let ports = try DiscodCluster.ports()
            let node = try DiscodProcess(
                nodeID: "n1", httpPort: ports.http, raftPort: ports.raft, dataDirectory: cluster.dataDirectory(for: "n1"),
                flags: ["-proxy-addr", "127.0.0.1:\(proxyPort)", "-upstream", "http://\(upstream.address)", "-upstream-health-interval", "0s",
                        "-tcp-proxy", "127.0.0.1:\(tcpPort)=127.0.0.1:\(echo.localAddress.port)"],
                launcher: ["/bin/sh", "-c", "ulimit -n \(Self.descriptorLimit) && exec \"$0\" \"$@\"", try DiscodProcess.executable("disco-sidecar")])
            try await waitForProxy(port: proxyPort, process: node)

            let kept = try await TCPConnection.connect(host: "127.0.0.1", port: tcpPort)
            try await kept.write([1, 2, 3])
            #expect(try await PassThroughTests.read(3, from: kept) == [1, 2, 3])

            // Twice as many connections as the descriptors left could splice.
            let burst = await withTaskGroup(of: TCPConnection?.self) { group in
                for _ in 0..<Self.descriptorLimit {
                    group.addTask { try? await TCPConnection.connect(host: "127.0.0.1", port: tcpPort) }
                }
                var opened: [TCPConnection] = []
                for await connection in group { if let connection { opened.append(connection) } }
                return opened
            }
            // It keeps a few descriptors free for itself (the last ones are not given to sockets).
            try await waitUntil("the sidecar to run out of descriptors", timeout: .seconds(60)) {
                Self.acceptFailures(in: node.process.output, port: tcpPort) > 0
            }
            try await kept.write([4, 5, 6])
            #expect(try await PassThroughTests.read(3, from: kept) == [4, 5, 6], "the connection spliced before must go on")

            burst.forEach { $0.close() }
            try await waitUntil("the listener to splice a new connection", timeout: .seconds(60)) {
                await Self.echoes(port: tcpPort, within: .seconds(2))
            }
            #expect(node.process.exitStatus == nil, "\(node.process.output)")
            kept.close()
            _ = await node.process.stop()
            await upstream.stop()
            echo.close()
            echoTask.cancel()
            await echoTask.value
        }
    }

    /// Two sidecars whose TCP listeners pass connections to each other (each start sees only
    /// its own listeners, so neither refuses it): one connection goes round and round until both
    /// run out of descriptors. One of them died of it (SIGILL) within seconds: libdispatch checks
    /// its worker threads once a second by opening `/proc/<tid>/stat` and traps when that open
    /// fails (EMFILE). Both must stay up, and once the connections close serve again.
    @Test func connectionsGoingRoundUntilDescriptorsRunOutDoNotStopTheSidecars() async throws {
        try await DiscodCluster.with("sidecar-tcp-round") { cluster in
            let (echo, echoTask) = try await PassThroughTests.tcpEcho()
            let upstream = try await RecordingUpstream.start(name: "u")
            var used = Set<UInt16>()
            func freePort() throws -> UInt16 {
                var port = try FreePort.loopback()
                while used.contains(port) { port = try FreePort.loopback() }
                used.insert(port)
                return port
            }
            let (proxyPort, roundA, roundB, echoPort) = (try freePort(), try freePort(), try freePort(), try freePort())
            var nodes: [DiscodProcess] = []
            for (id, flags) in [("a", ["-proxy-addr", "127.0.0.1:\(proxyPort)", "-tcp-proxy", "127.0.0.1:\(roundA)=127.0.0.1:\(roundB)",
                                       "-tcp-proxy", "127.0.0.1:\(echoPort)=127.0.0.1:\(echo.localAddress.port)"]),
                                ("b", ["-tcp-proxy", "127.0.0.1:\(roundB)=127.0.0.1:\(roundA)"])] {
                let (http, raft) = (try freePort(), try freePort())
                nodes.append(try DiscodProcess(
                    nodeID: id, httpPort: http, raftPort: raft, dataDirectory: cluster.dataDirectory(for: id),
                    flags: ["-upstream", "http://\(upstream.address)", "-upstream-health-interval", "0s"] + flags,
                    launcher: ["/bin/sh", "-c", "ulimit -n \(Self.roundDescriptorLimit) && exec \"$0\" \"$@\"",
                               try DiscodProcess.executable("disco-sidecar")]))
            }
            defer { for node in nodes { Task { _ = await node.process.stop() } } }
            try await waitForProxy(port: proxyPort, process: nodes[0])
            // "node b started" comes before its roles start: /readyz answers 200 only once the
            // sidecar role's proxy, TCP listeners included, is up (a first hop refused by B's
            // listener not yet bound would end the round before it began).
            try await waitUntil("the second sidecar to listen", timeout: .seconds(60)) {
                guard await Self.echoes(port: echoPort, within: .seconds(2)) else { return false }
                return (try? await nodes[1].request("GET", "/readyz"))?.status == 200
            }
            func bothRunning() throws {
                for node in nodes {
                    if let status = node.process.exitStatus {
                        throw SidecarExited(description: "disco-sidecar exited with \(status):\n\(node.process.output.suffix(3000))")
                    }
                }
            }

            let first = try await TCPConnection.connect(host: "127.0.0.1", port: roundA)
            try await first.write([1])
            try await waitUntil("a sidecar to run out of descriptors", timeout: .seconds(120)) {
                try bothRunning()
                return nodes.contains { $0.process.output.contains("Too many open files") }
            }
            first.close()
            try await waitUntil("the connections going round to close", timeout: .seconds(120)) {
                try bothRunning()
                return nodes.allSatisfy { node in
                    node.process.pid.flatMap { Self.openDescriptors(pid: $0) }.map { $0 < Self.roundDescriptorLimit / 2 } ?? false
                }
            }
            try await waitUntil("the listener to splice a new connection", timeout: .seconds(60)) {
                try bothRunning()
                return await Self.echoes(port: echoPort, within: .seconds(2))
            }
            try bothRunning()
            for node in nodes { _ = await node.process.stop() }
            await upstream.stop()
            echo.close()
            echoTask.cancel()
            await echoTask.value
        }
    }
}
