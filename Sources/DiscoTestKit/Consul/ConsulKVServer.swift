import DiscoCore
import DiscoNet
import Foundation

// MARK: - ConsulKVServer

/// Serves a ``ConsulKVDouble`` over real HTTP on loopback (an OS-chosen port), so the Consul
/// backend is tested through the same client and wire format it uses against a real agent.
public final class ConsulKVServer: Sendable {
    public let double: ConsulKVDouble
    public let server: HTTPServer

    /// `127.0.0.1:<port>`, the value for disco-config's `address`.
    public var address: String { "127.0.0.1:\(server.localAddress.port)" }

    /// Starts serving; with `tls`, over HTTPS (as an agent with `verify_incoming` does when
    /// the configuration asks for client certificates).
    public static func start(double: ConsulKVDouble = ConsulKVDouble(), tls: TLSConfiguration? = nil) async throws -> ConsulKVServer {
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        if let tls { configuration.transport = try TLSTransportFactory.server(tls) }
        let server = try await HTTPServer.start(configuration: configuration) { request in
            await Self.serve(request, double: double)
        }
        return ConsulKVServer(double: double, server: server)
    }

    private init(double: ConsulKVDouble, server: HTTPServer) {
        self.double = double
        self.server = server
    }

    public func stop() async { await server.shutdown(gracePeriod: .seconds(1)) }

    static func serve(_ request: HTTPRequest, double: ConsulKVDouble) async -> HTTPResponse {
        let query = (request.query ?? "").split(separator: "&").map { item -> (name: String, value: String) in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String { String(text).removingPercentEncoding ?? String(text) }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
        let path = request.path.removingPercentEncoding ?? request.path
        do {
            let response = try await double.handle(ConsulKVModel.Request(
                method: request.method, path: path, query: query,
                headers: request.headers.map { (name: $0.name, value: $0.value) }, body: request.body))
            var headers = HTTPHeaders()
            for header in response.headers { headers.add(name: header.name, value: header.value) }
            return HTTPResponse(status: response.status, headers: headers, bytes: response.body)
        } catch {
            return HTTPResponse.text("double failed: \(error)", status: 500)
        }
    }
}
