import DiscoNet
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
        /// Whether clients speak TLS to it.
        public let usesTLS: Bool

        /// `http://127.0.0.1:<clientPort>` (`https://` with TLS).
        public var clientURL: String { "\(usesTLS ? "https" : "http")://127.0.0.1:\(clientPort)" }
    }

    /// TLS on the client URLs: etcd's `--cert-file`, `--key-file`, `--trusted-ca-file` and, with
    /// `requireClientCertificates`, `--client-cert-auth`. `client` is the certificate the fixture
    /// itself presents for health checks.
    public struct TLS: Sendable {
        public var certificate: String
        public var key: String
        public var caFile: String
        public var requireClientCertificates: Bool
        public var client: (certificate: String, key: String)?

        public init(certificate: String, key: String, caFile: String, requireClientCertificates: Bool = true,
                    client: (certificate: String, key: String)? = nil) {
            self.certificate = certificate
            self.key = key
            self.caFile = caFile
            self.requireClientCertificates = requireClientCertificates
            self.client = client
        }
    }

    /// The members, in start order.
    public let members: [Member]
    private let root: String
    private let healthClient: HTTPClient?

    /// Client URLs of all members, such as `["http://127.0.0.1:40123"]`.
    public var endpoints: [String] { members.map(\.clientURL) }

    private init(members: [Member], root: String, healthClient: HTTPClient?) {
        self.members = members
        self.root = root
        self.healthClient = healthClient
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Starts a cluster of `size` members and returns once every member reports healthy. With
    /// `tls`, clients reach the members over https (peers still talk plain HTTP among themselves).
    public static func start(members size: Int = 1, timeout: Duration = .seconds(60), tls: TLS? = nil) async throws -> EtcdFixture {
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
            let clientScheme = tls == nil ? "http" : "https"
            var tlsArguments: [String] = []
            if let tls {
                tlsArguments = ["--cert-file", tls.certificate, "--key-file", tls.key, "--trusted-ca-file", tls.caFile]
                if tls.requireClientCertificates { tlsArguments.append("--client-cert-auth") }
            }
            let process = ChildProcess(
                name: "etcd \(name)", executable: executable,
                arguments: tlsArguments + [
                    "--name", name, "--data-dir", dataDirectory,
                    "--listen-client-urls", "\(clientScheme)://127.0.0.1:\(port.client)",
                    "--advertise-client-urls", "\(clientScheme)://127.0.0.1:\(port.client)",
                    "--listen-peer-urls", "http://127.0.0.1:\(port.peer)",
                    "--initial-advertise-peer-urls", "http://127.0.0.1:\(port.peer)",
                    "--initial-cluster", cluster, "--initial-cluster-state", "new",
                    "--initial-cluster-token", token,
                    "--logger", "zap", "--log-outputs", "stderr",
                ])
            members.append(Member(name: name, clientPort: port.client, peerPort: port.peer, dataDirectory: dataDirectory, process: process,
                                  usesTLS: tls != nil))
        }
        var healthClient: HTTPClient?
        if let tls {
            var client = TLSConfiguration.client(trustRoots: .pem(.file(tls.caFile)), label: "etcd health check")
            if let credential = tls.client {
                client.certificateChain = .file(credential.certificate)
                client.privateKey = .file(credential.key)
            }
            healthClient = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(1), requestTimeout: .seconds(3),
                                                                             httpsTransport: try TLSTransportFactory.client(client)))
        }
        let fixture = EtcdFixture(members: members, root: root, healthClient: healthClient)
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
        if let healthClient {
            guard let response = try? await healthClient.send(HTTPClientRequest(url: member.clientURL + "/health")) else { return false }
            return response.status == 200 && response.bodyText.contains("\"health\":\"true\"")
        }
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
