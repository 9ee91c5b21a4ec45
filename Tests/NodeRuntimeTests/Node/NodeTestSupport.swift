import DiscoCore
import DiscoSystem
import DiscoTestKit
import Foundation
import NodeRuntime

// MARK: - Nodes in process

/// A loopback node configuration with free ports and a fresh data directory (removed by
/// ``TestNodeSetup/removeDirectory()``).
struct TestNodeSetup {
    var configuration: NodeConfiguration
    let httpPort: UInt16
    let raftPort: UInt16

    init(id: NodeID, prefix: String = "disco-node") throws {
        let directory = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        httpPort = try FreePort.loopback()
        raftPort = try FreePort.loopback()
        configuration = NodeConfiguration(nodeID: id, dataDirectory: directory)
        configuration.api.bindAddress = PeerAddress(host: "127.0.0.1", port: httpPort)
        configuration.internode.bindAddress = PeerAddress(host: "127.0.0.1", port: raftPort)
    }

    var apiURL: String { "http://127.0.0.1:\(httpPort)" }

    func removeDirectory() { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
}

/// A logger whose lines go nowhere (or into `sink`).
func testLogger(_ level: Logger.Level = .warning, sink: MemoryLogSink = MemoryLogSink()) -> Logger {
    Logger(label: "test", level: level, handler: LogfmtHandler(sink: sink))
}
