import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Synchronization
import Testing

// MARK: - Running a proxy in the test process

let testLogger = Logger(label: "sidecar-test", level: .critical, handler: LogfmtHandler(sink: MemoryLogSink()))

/// A configuration that listens on 127.0.0.1 port 0 and fronts `upstreams` (the first with the
/// default routes unless `routes` are given). Health checks are off unless `healthInterval` is set.
/// The timeouts are generous (they bound a hang; a loaded machine can take seconds to answer);
/// tests of the timeouts set their own.
func proxyConfiguration(_ upstreams: [(String, SocketAddress)], routes: [ProxyRoute] = [],
                        healthInterval: Duration = .zero) -> ProxyConfiguration {
    ProxyConfiguration(listenAddress: PeerAddress(host: "127.0.0.1", port: 0),
                       upstreams: upstreams.map { UpstreamDefinition(name: $0.0, address: PeerAddress(host: $0.1.host, port: $0.1.port)) },
                       routes: routes, healthInterval: healthInterval, connectTimeout: .seconds(10), readTimeout: .seconds(30))
}

/// Starts the proxy, runs `body`, and stops it.
/// A proxy configuration with no HTTP listener and one TCP pass-through listener on a port the
/// system picks, to `upstream` on loopback, with the given limits.
func tcpOnlyConfiguration(upstream: SocketAddress, maxConnections: Int? = nil, rate: LimitRate? = nil, burst: Int = 0,
                          idleTimeout: Duration? = nil) -> ProxyConfiguration {
    var configuration = proxyConfiguration([])
    configuration.listenAddress = nil
    configuration.tcpProxies = [TCPProxySpec(listen: PeerAddress(host: "127.0.0.1", port: 0),
                                             upstream: PeerAddress(host: "127.0.0.1", port: upstream.port), maxConnections: maxConnections,
                                             rate: rate, burst: burst, idleTimeout: idleTimeout)]
    return configuration
}

func withProxy<T>(
    _ configuration: ProxyConfiguration, nodeID: String = "n1", writer: any WriterResolver = FixedWriter(.local),
    keys: any APIKeyStore = InMemoryAPIKeyStore(), hops: HopAuthenticator? = nil, _ body: (SidecarProxyServer) async throws -> T
) async throws -> T {
    let proxy = try await SidecarProxyServer.start(configuration: configuration, nodeID: nodeID, writer: writer, keys: keys, logger: testLogger,
                                                   hops: hops)
    do {
        let result = try await body(proxy)
        await proxy.shutdown()
        return result
    } catch {
        await proxy.shutdown()
        throw error
    }
}

extension SidecarProxyServer {
    /// `http://127.0.0.1:PORT`.
    var url: String { "http://\(localAddress?.description ?? "?")" }
}

// MARK: - Upstreams written in the test

/// An in-process upstream that records every request it receives (method, target, headers,
/// body size) and answers `200` with `X-Upstream: NAME`.
final class RecordingUpstream: Sendable {
    struct Seen: Sendable {
        var method: String
        var target: String
        var headers: HTTPHeaders
        var bodyBytes: Int
    }

    let name: String
    let server: HTTPServer
    private let seen = Mutex<[Seen]>([])

    private init(name: String, server: HTTPServer) {
        self.name = name
        self.server = server
    }

    static func start(name: String) async throws -> RecordingUpstream {
        let box = Mutex<RecordingUpstream?>(nil)
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxBodyBytes = 1 << 40
        let server = try await HTTPServer.start(configuration: configuration, responder: HTTPResponder { request in
            var bytes = 0
            for try await piece in request.body { bytes += piece.count }
            let upstream = box.withLock { $0 }
            upstream?.seen.withLock { $0.append(Seen(method: request.method, target: request.target, headers: request.headers, bodyBytes: bytes)) }
            return HTTPResponse(headers: ["X-Upstream": name, "Content-Type": "text/plain"], bytes: Array("\(name) \(request.method) \(request.target) \(bytes)".utf8))
        })
        let upstream = RecordingUpstream(name: name, server: server)
        box.withLock { $0 = upstream }
        return upstream
    }

    var address: SocketAddress { server.localAddress }
    var requests: [Seen] { seen.withLock { $0 } }

    func stop() async { await server.shutdown(gracePeriod: .seconds(1)) }
}

/// A TCP server that answers every connection with `script` (raw bytes, after reading the
/// request head), then closes or keeps it open without a word (`hang`).
final class ScriptedTCPUpstream: Sendable {
    let listener: TCPListener
    private let task: Task<Void, Never>
    private let accepted = AcceptCount()
    private let released = AcceptCount()

    /// - Parameters:
    ///   - later: sent after `script` once ``release()`` is called (then the connection closes),
    ///     or after `hold` without a release.
    init(script: [UInt8]?, later: [UInt8]? = nil, hold: Duration = .seconds(30), closeAfter: Bool = true) async throws {
        let listener = try await TCPListener.bind()
        self.listener = listener
        let counter = accepted
        let released = self.released
        task = Task {
            await withDiscardingTaskGroup { group in
                while let connection = try? await listener.accept() {
                    counter.value.add(1, ordering: .relaxed)
                    group.addTask {
                        var head: [UInt8] = []
                        while !head.ends(with: [13, 10, 13, 10]), let piece = try? await connection.read() { head += piece }
                        if let script {
                            try? await connection.write(script)
                            if let later {
                                try? await waitUntil("the test to release the rest of the script", timeout: hold) { released.value.load(ordering: .relaxed) > 0 }
                                try? await connection.write(later)
                            }
                            if closeAfter { connection.close() }
                        }
                        // Without a script (or left open), hold the connection until the peer leaves.
                        while (try? await connection.read()) != nil {}
                        connection.close()
                    }
                }
                group.cancelAll()
            }
        }
    }

    var address: SocketAddress { listener.localAddress }
    /// Lets every connection send the rest of its script.
    func release() { released.value.store(1, ordering: .relaxed) }

    var connections: Int { accepted.value.load(ordering: .relaxed) }

    func stop() async {
        listener.close()
        task.cancel()
        await task.value
    }
}

final class AcceptCount: Sendable {
    let value = Atomic<Int>(0)
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

/// The JSON body of a response.
func json(_ response: HTTPClientResponse) throws -> JSONValue {
    try JSONValue.parse(response.body)
}
