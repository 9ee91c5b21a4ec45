import Foundation

// MARK: - EtcdFixture

/// A real etcd (Debian `etcd-server`, 3.4) cluster on 127.0.0.1 with free ports and temporary
/// data directories: one member by default, or several for endpoint fail-over tests.
///
/// `stop()` stops every member and removes the data directories; ``stopMember(_:)`` stops one.
public final class EtcdFixture: Sendable {
    public static let executable = "/usr/bin/etcd"

    /// One etcd process.
    public struct Member: Sendable {
        public let name: String
        public let clientPort: UInt16
        public let peerPort: UInt16
        public let dataDirectory: String
        public let process: ChildProcess

        /// `http://127.0.0.1:<clientPort>`.
        public var clientURL: String { "http://127.0.0.1:\(clientPort)" }
    }

    /// The members, in start order.
    public let members: [Member]
    private let root: String

    /// Client URLs of all members, such as `["http://127.0.0.1:40123"]`.
    public var endpoints: [String] { members.map(\.clientURL) }

    private init(members: [Member], root: String) {
        self.members = members
        self.root = root
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Starts a cluster of `size` members and returns once every member reports healthy.
    public static func start(members size: Int = 1, timeout: Duration = .seconds(60)) async throws -> EtcdFixture {
        precondition(size >= 1, "an etcd cluster needs at least one member")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("disco-etcd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var ports: [(client: UInt16, peer: UInt16)] = []
        var taken = Set<UInt16>()
        while ports.count < size {
            let client = try FreePort.loopback()
            let peer = try FreePort.loopback()
            guard client != peer, taken.insert(client).inserted, taken.insert(peer).inserted else { continue }
            ports.append((client, peer))
        }
        let token = "disco-\(UUID().uuidString.prefix(8))"
        let cluster = ports.enumerated().map { "m\($0.offset)=http://127.0.0.1:\($0.element.peer)" }.joined(separator: ",")
        var members: [Member] = []
        for (index, port) in ports.enumerated() {
            let name = "m\(index)"
            let dataDirectory = "\(root)/\(name)"
            let process = ChildProcess(
                name: "etcd \(name)", executable: executable,
                arguments: [
                    "--name", name, "--data-dir", dataDirectory,
                    "--listen-client-urls", "http://127.0.0.1:\(port.client)",
                    "--advertise-client-urls", "http://127.0.0.1:\(port.client)",
                    "--listen-peer-urls", "http://127.0.0.1:\(port.peer)",
                    "--initial-advertise-peer-urls", "http://127.0.0.1:\(port.peer)",
                    "--initial-cluster", cluster, "--initial-cluster-state", "new",
                    "--initial-cluster-token", token,
                    "--logger", "zap", "--log-outputs", "stderr",
                ])
            members.append(Member(name: name, clientPort: port.client, peerPort: port.peer, dataDirectory: dataDirectory, process: process))
        }
        let fixture = EtcdFixture(members: members, root: root)
        do {
            for member in members { try member.process.start(environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ETCD") }) }
            for member in members {
                try await waitUntil("etcd \(member.name) at \(member.clientURL) to report healthy", timeout: timeout) {
                    if let status = member.process.exitStatus {
                        throw ChildProcess.Failure(description: "etcd \(member.name) exited with status \(status):\n\(member.process.output)")
                    }
                    return await fixture.isHealthy(member)
                }
            }
        } catch {
            await fixture.stop()
            throw error
        }
        return fixture
    }

    /// Whether `GET /health` on the member answers `{"health":"true"}`.
    public func isHealthy(_ member: Member) async -> Bool {
        guard let response = await LoopbackProbe.httpGet(port: member.clientPort, path: "/health") else { return false }
        return response.status == 200 && response.body.contains("\"health\":\"true\"")
    }

    /// Stops one member (SIGTERM, then SIGKILL), leaving the others running.
    public func stopMember(_ index: Int) async {
        guard members.indices.contains(index) else { return }
        await members[index].process.stop()
    }

    /// Stops every member and removes the data directories.
    public func stop() async {
        for member in members { await member.process.stop() }
        try? FileManager.default.removeItem(atPath: root)
    }
}
