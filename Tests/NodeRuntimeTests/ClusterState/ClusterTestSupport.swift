import DiscoCore
import DiscoSystem
import DiscoRaft
import Foundation
@testable import NodeRuntime

// MARK: - Helpers shared by the cluster state tests

/// A fresh directory under the system temporary directory, removed by `cleanUp()`.
struct ClusterTemporaryDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("disco-cluster-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

/// A logger writing into memory.
func memoryLogger(_ sink: MemoryLogSink = MemoryLogSink(), label: String = "cluster-state") -> Logger {
    Logger(label: label, level: .debug, handler: LogfmtHandler(sink: sink))
}

func member(_ id: NodeID, port: Int = 4002, voter: Bool = true) -> ClusterMember {
    ClusterMember(id: id, raftAddress: "10.0.0.\(port % 250):\(port)", apiAddress: "10.0.0.\(port % 250):\(port - 1)", voter: voter)
}

func json(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A Raft entry carrying `command`.
func entry(_ command: ClusterCommand, index: UInt64, term: UInt64 = 1) throws -> Entry {
    Entry(term: term, index: index, kind: .normal, data: try command.encode())
}

/// The error decoding `bytes` as a command throws (nil when they decode).
func decodeError(_ bytes: [UInt8]) -> ClusterCodingError? {
    do {
        _ = try ClusterCommand.decode(bytes)
        return nil
    } catch {
        return error
    }
}

/// The error encoding `command` throws (nil when it encodes).
func encodeError(_ command: ClusterCommand) -> ClusterCodingError? {
    do {
        _ = try command.encode()
        return nil
    } catch {
        return error
    }
}

struct ClusterTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
