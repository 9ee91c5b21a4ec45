import DiscoCore
import Foundation
import Synchronization

// MARK: - DiscodCluster

/// A set of `discod` processes on loopback for one test, with fresh data directories under a
/// temporary root; everything is killed and removed by ``shutdown()``.
public final class DiscodCluster: Sendable {
    public let root: String
    /// The consensus engine every node runs.
    public let engine: DiscodEngine
    /// The etcd the nodes keep their state in (``DiscodEngine/etcd``).
    public let etcd: EtcdFixture?
    private let started = Mutex<[DiscodProcess]>([])

    public init(name: String = "discod", engine: DiscodEngine = .raft, etcd: EtcdFixture? = nil) throws {
        root = NSTemporaryDirectory() + "disco-\(name)-\(UUID().uuidString.prefix(8))"
        self.engine = engine
        self.etcd = etcd
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// Runs `body` with a fresh cluster whose nodes run `engine` (for etcd, a fresh etcd with
    /// `etcdMembers` members); every process is killed and the data removed afterwards, also
    /// when `body` throws.
    public static func with(_ name: String, engine: DiscodEngine = .raft, etcdMembers: Int = 1,
                            _ body: (DiscodCluster) async throws -> Void) async throws {
        let etcd = engine == .etcd ? try await EtcdFixture.start(members: etcdMembers) : nil
        let cluster: DiscodCluster
        do {
            cluster = try DiscodCluster(name: name, engine: engine, etcd: etcd)
        } catch {
            await etcd?.stop()
            throw error
        }
        do {
            try await body(cluster)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// The flags that select the engine: none for Raft; `-consensus etcd -consensus-config …`
    /// and a `-disco-key` of this cluster's own for etcd (a flag list that names `-disco-key`
    /// keeps its own).
    public func engineFlags(adding flags: [String]) -> [String] {
        guard engine == .etcd, let etcd else { return flags }
        let endpoints = etcd.endpoints.map { "\"\($0)\"" }.joined(separator: ",")
        var added = ["-consensus", "etcd", "-consensus-config", "{\"endpoints\":[\(endpoints)]}"]
        if !flags.contains(where: { $0 == "-disco-key" || $0.hasPrefix("-disco-key=") }) {
            added += ["-disco-key", "disco-\(root.suffix(8))"]
        }
        return added + flags
    }

    /// Two free ports (HTTP, Raft) for one node.
    public static func ports() throws -> (http: UInt16, raft: UInt16) {
        let http = try FreePort.loopback()
        var raft = try FreePort.loopback()
        while raft == http { raft = try FreePort.loopback() }
        return (http, raft)
    }

    /// Ports for `count` nodes, chosen up front so `-join` can list every node.
    public static func ports(count: Int) throws -> [(http: UInt16, raft: UInt16)] {
        var result: [(http: UInt16, raft: UInt16)] = []
        var used = Set<UInt16>()
        while result.count < count {
            let pair = try ports()
            guard !used.contains(pair.http), !used.contains(pair.raft) else { continue }
            used.formUnion([pair.http, pair.raft])
            result.append(pair)
        }
        return result
    }

    /// The data directory of a node ID under this cluster's root.
    public func dataDirectory(for id: String) -> String { root + "/node-\(id)" }

    /// Starts one node with its data directory under the root.
    @discardableResult
    public func start(id: String, host: String = "127.0.0.1", bindHost: String? = nil, ports: (http: UInt16, raft: UInt16), flags: [String],
                      authorization: String? = nil, access: DiscodAPIAccess = .plain) throws -> DiscodProcess {
        let node = try DiscodProcess(nodeID: id, host: host, bindHost: bindHost, httpPort: ports.http, raftPort: ports.raft,
                                     dataDirectory: dataDirectory(for: id),
                                     flags: engineFlags(adding: flags), authorization: authorization, access: access)
        started.withLock { $0.append(node) }
        return node
    }

    /// Restarts a node (same ID and data directory), tracking the new process.
    @discardableResult
    public func restart(_ node: DiscodProcess, ports: (http: UInt16, raft: UInt16)? = nil, flags: [String]? = nil) throws -> DiscodProcess {
        let again = try node.restarted(httpPort: ports?.http, raftPort: ports?.raft, flags: flags.map { engineFlags(adding: $0) })
        started.withLock { $0.append(again) }
        return again
    }

    /// `http://127.0.0.1:P,…` (or `https://…`) for `-join`.
    public static func joinList(_ ports: [(http: UInt16, raft: UInt16)], scheme: String = "http") -> String {
        ports.map { "\(scheme)://127.0.0.1:\($0.http)" }.joined(separator: ",")
    }

    /// Waits until every node in `nodes` reports the same leader and, when that leader is one of
    /// `nodes`, it reports itself leader in `/status`; returns its ID. Fails early when a node exits.
    @discardableResult
    public static func waitForLeader(_ nodes: [DiscodProcess], timeout: Duration = .seconds(60)) async throws -> String {
        var agreed: String?
        try await waitUntil("\(nodes.count) nodes to agree on a leader", watching: nodes, timeout: timeout) {
            var leaders = Set<String>()
            for node in nodes {
                guard let leader = await node.leaderID() else { return false }
                leaders.insert(leader)
            }
            agreed = leaders.count == 1 ? leaders.first : nil
            // The leader itself must act as one: with etcd the others see its election key
            // lead a moment before it has read what it needs to accept writes.
            guard let agreed, let own = nodes.first(where: { $0.nodeID == agreed }) else { return agreed != nil }
            return (try? await own.status())?["node"]?["state"]?.stringValue == "leader"
        }
        return agreed ?? ""
    }

    // MARK: Polling with the nodes' logs on failure

    /// Polls `condition` (generous deadline) while watching `nodes`: a node that exits fails the
    /// wait at once with its output (unless `requireRunning` is false, for waits that expect an
    /// exit), and a timeout carries every watched node's recent output. With `retryingErrors`, an
    /// error thrown by `condition` is a miss polled again, and the timeout names the last one.
    public static func waitUntil(_ what: String, watching nodes: [DiscodProcess], timeout: Duration = .seconds(60),
                                 pollEvery interval: Duration = .milliseconds(100), requireRunning: Bool = true,
                                 retryingErrors: Bool = false, _ condition: () async throws -> Bool) async throws {
        var lastError: String?
        do {
            try await DiscoTestKit.waitUntil(what, timeout: timeout, pollEvery: interval) {
                if requireRunning, let exited = nodes.first(where: { !$0.process.isRunning }) {
                    throw ChildProcess.Failure(description: "while waiting for \(what): node \(exited.nodeID) exited with "
                        + "\(exited.process.exitStatus ?? -1):\n\(exited.process.output.suffix(6000))")
                }
                do {
                    return try await condition()
                } catch where retryingErrors && !(error is CancellationError) && !Task.isCancelled {
                    lastError = "\(error)"
                    return false
                }
            }
        } catch var timeout as WaitTimeout {
            timeout.lastError = lastError
            throw ChildProcess.Failure(description: "\(timeout)\n" + logs(nodes))
        }
    }

    /// The tail of every node's output with its exit status, for failure messages. An output
    /// longer than the tail is also written whole to a file outside the cluster's root (which
    /// ``shutdown()`` removes), and the message names it.
    public static func logs(_ nodes: [DiscodProcess]) -> String {
        let tail = 5000
        var directory: String?
        return nodes.enumerated().map { position, node in
            let output = node.process.output
            var header = "--- node \(node.nodeID) (exit \(node.process.exitStatus.map(String.init) ?? "running"))"
            if output.count > tail {
                if directory == nil { directory = NSTemporaryDirectory() + "disco-failure-logs-\(UUID().uuidString.prefix(8))" }
                if let directory, let path = writeWholeOutput(output, name: "\(position)-node-\(node.nodeID)", in: directory) {
                    header += ", the last \(tail) characters; whole output in \(path)"
                }
            }
            return "\(header):\n\(output.suffix(tail))"
        }
        .joined(separator: "\n")
    }

    /// Writes `output` to `directory/name.log`; `nil` when it cannot (the tail still shows).
    static func writeWholeOutput(_ output: String, name: String, in directory: String) -> String? {
        let path = directory + "/\(name).log"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try output.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        } catch {
            return nil
        }
    }

    /// Kills every process started and removes the data directories.
    public func shutdown() async {
        let nodes = started.withLock { $0 }
        for node in nodes { await node.kill() }
        await etcd?.stop()
        try? FileManager.default.removeItem(atPath: root)
    }
}

// MARK: - DiscodEngine

/// The consensus engine a test's nodes run: the node process tests run against both.
public enum DiscodEngine: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Embedded Raft (the default).
    case raft
    /// `-consensus etcd` against a real etcd started for the test.
    case etcd

    public var description: String { rawValue }
}
