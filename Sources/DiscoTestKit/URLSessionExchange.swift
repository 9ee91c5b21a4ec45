import DiscoCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// MARK: - URLSessionExchange

/// ``HTTPExchanging`` over Foundation's URLSession, for tests that talk to real servers
/// (etcd, a real Consul agent) independently of DiscoNet's client.
public struct URLSessionExchange: HTTPExchanging {
    public init() {}

    public func exchange(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPExchangeResponse {
        guard let url = URL(string: request.url) else {
            throw DiscoveryError(.malformed, server: request.url, record: request.url, detail: "not a URL")
        }
        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = request.method
        urlRequest.timeoutInterval = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        for header in request.headers { urlRequest.addValue(header.value, forHTTPHeaderField: header.name) }
        if !request.body.isEmpty { urlRequest.httpBody = Data(request.body) }
        do {
            let (data, response) = try await URLSession.shared.data(for: urlRequest)
            guard let http = response as? HTTPURLResponse else {
                throw DiscoveryError(.malformed, server: request.url, record: request.url, detail: "not an HTTP response")
            }
            let headers = http.allHeaderFields.compactMap { key, value -> (name: String, value: String)? in
                guard let name = key as? String, let text = value as? String else { return nil }
                return (name, text)
            }
            return HTTPExchangeResponse(status: http.statusCode, headers: headers, body: Array(data))
        } catch let error as URLError {
            let kind: DiscoveryError.Kind = error.code == .timedOut ? .timeout : .unreachable
            throw DiscoveryError(kind, server: url.host.map { "\($0):\(url.port ?? 80)" } ?? request.url,
                                 record: url.path, detail: error.localizedDescription)
        }
    }
}
