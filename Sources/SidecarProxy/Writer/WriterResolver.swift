import DiscoCore
import DiscoNet
import Sidecar
import Synchronization

// MARK: - Finding the writer

/// Where writes go: the cluster's writer as this sidecar knows it right now. The Raft leader's
/// sidecar today; the hot replica once hot/cold exists (another implementation).
public protocol WriterResolver: Sendable {
    /// The writer, without waiting (the proxy asks on every write).
    var current: WriterLocation { get }
}

/// A writer that never changes (tests, and a sidecar that is its own writer).
public struct FixedWriter: WriterResolver {
    public let current: WriterLocation
    public init(_ location: WriterLocation) { current = location }
}

/// The Raft leader's sidecar, learned by asking the local node's API for `GET /leader` every
/// `interval`. The leader's sidecar is taken to listen on the leader's API host at this
/// sidecar's proxy port (every sidecar of a cluster uses the same `-proxy-addr` port, as the
/// pods of a StatefulSet do).
public final class LeaderWriterResolver: WriterResolver {
    private let nodeAPI: String
    private let nodeID: String
    private let proxyPort: UInt16
    private let interval: Duration
    private let client: HTTPClient
    private let credentials: String?
    private let state = Mutex<WriterLocation>(.unknown(reason: "the leader has not been asked yet"))

    /// - Parameters:
    ///   - nodeAPI: the local node's API, `host:port`.
    ///   - credentials: a basic `Authorization` value for a node with `-auth` (permission `status`).
    ///   - https: the node's API speaks HTTPS (`-http-cert`); `caFile` then names the CA that
    ///     signed its certificate (the system's roots without one).
    public init(nodeAPI: String, nodeID: String, proxyPort: UInt16, interval: Duration = .milliseconds(250),
                https: Bool = false, caFile: String? = nil, credentials: String? = nil) {
        self.nodeAPI = (https ? "https://" : "http://") + nodeAPI
        self.nodeID = nodeID
        self.proxyPort = proxyPort
        self.interval = interval
        self.credentials = credentials
        var settings = HTTPClientConfiguration(connectTimeout: .seconds(1), requestTimeout: .seconds(2), maxConnectionsPerHost: 1)
        if https, let factory = try? TLSTransportFactory.client(.client(trustRoots: caFile.map { .pem(.file($0)) } ?? .system)) {
            settings.httpsTransport = factory
        }
        client = HTTPClient(configuration: settings)
    }

    public var current: WriterLocation { state.withLock { $0 } }

    /// Asks once and records the answer.
    public func refresh() async {
        let location = await ask()
        state.withLock { $0 = location }
    }

    /// Refreshes every `interval` until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            await refresh()
            try? await Task.sleep(for: interval)
        }
        await client.shutdown()
    }

    private func ask() async -> WriterLocation {
        var headers = HTTPHeaders()
        if let credentials { headers.add(name: "Authorization", value: credentials) }
        do {
            let response = try await client.send(HTTPClientRequest(url: "\(nodeAPI)/leader", headers: headers))
            guard response.status == 200 else {
                return .unknown(reason: "the node has no leader (GET /leader answered \(response.status))")
            }
            let json = try JSONValue.parse(response.body)
            guard let id = json["id"]?.stringValue, let api = json["api_addr"]?.stringValue else {
                return .unknown(reason: "GET /leader answered without id and api_addr")
            }
            if id == nodeID { return .local }
            let address = try PeerAddress(parsing: api)
            return .remote(address: PeerAddress(host: address.host, port: proxyPort).description, id: id)
        } catch {
            return .unknown(reason: "cannot ask the local node for the leader: \(error)")
        }
    }
}
