import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Foundation
import NodeRuntime

// MARK: - A node with roles, in process

/// A single loopback node on free ports with a fresh data directory, run in a task the test
/// owns; ``restart(roles:)`` runs the same node again from its directory.
struct RoleTestNode {
    let configuration: NodeConfiguration
    let node: Node
    private let task: Task<(any Error)?, Never>

    var apiURL: String { node.apiAddress.url }

    static func configuration(id: NodeID) throws -> NodeConfiguration {
        var configuration = NodeConfiguration(nodeID: id, dataDirectory: NSTemporaryDirectory() + "disco-roles-\(UUID().uuidString.prefix(8))")
        configuration.api.bindAddress = PeerAddress(host: "127.0.0.1", port: try FreePort.loopback())
        configuration.internode.bindAddress = PeerAddress(host: "127.0.0.1", port: try FreePort.loopback())
        return configuration
    }

    static func start(_ configuration: NodeConfiguration, roles: [any Role]) async throws -> RoleTestNode {
        let logger = Logger(label: "test", level: .warning, handler: LogfmtHandler(sink: MemoryLogSink()))
        // A restart may find the directory's lock still held for a moment: a process another test
        // spawned between fork and exec shares the descriptor until its exec closes it.
        var started: Node?
        try await waitUntil("the data directory's lock to be free", timeout: .seconds(120)) {
            do {
                started = try await Node.start(configuration, logger: logger, roles: roles)
                return true
            } catch let error as NodeStartupError where "\(error)".contains("another node's process (pid ") {
                return false
            }
        }
        guard let node = started else { throw NodeStartupError("the node did not start") }
        let task = Task<(any Error)?, Never> {
            do {
                try await node.run()
                return nil
            } catch {
                return error
            }
        }
        return RoleTestNode(configuration: configuration, node: node, task: task)
    }

    /// Stops gracefully; returns what `run()` threw.
    @discardableResult
    func stop() async -> (any Error)? {
        node.shutdown()
        return await task.value
    }

    /// Waits for the node to stop by itself (a role that throws stops it); returns what `run()`
    /// threw.
    func outcome() async -> (any Error)? { await task.value }

    /// Cancels the task running the node (no graceful shutdown, as a program embedding the node
    /// may); returns what `run()` threw.
    @discardableResult
    func cancel() async -> (any Error)? {
        task.cancel()
        return await task.value
    }

    func removeDirectory() { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }

    /// `GET path` on the node's API, parsed.
    func getJSON(_ path: String, client: HTTPClient) async throws -> JSONValue {
        try JSONValue.parse(try await client.send(HTTPClientRequest(url: apiURL + path)).body)
    }

    /// `POST /events` with `body`; the seq.
    func append(_ body: String, client: HTTPClient) async throws -> UInt64? {
        let answer = try await client.send(HTTPClientRequest(method: "POST", url: apiURL + "/events", body: Array(body.utf8)))
        return (try? JSONValue.parse(answer.body))?["seq"]?.numberValue?.uint64Value
    }
}

/// `dig +short` against a local server: the answer lines, sorted.
func dig(_ port: UInt16, _ name: String, _ type: String = "A") async throws -> [String] {
    let output = try await Command.check("/usr/bin/dig", ["+short", "+time=2", "+tries=3", "@127.0.0.1", "-p", "\(port)", name, type])
    return output.split(separator: "\n").map(String.init).sorted()
}
