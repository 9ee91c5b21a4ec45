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

    /// Open descriptors of process `pid` (nil once it is gone).
    static func openDescriptors(pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
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
            let pid = try #require(node.process.pid)

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
            try await waitUntil("the sidecar to run out of descriptors", timeout: .seconds(60)) {
                (Self.openDescriptors(pid: pid) ?? 0) >= Self.descriptorLimit - 1
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
}
