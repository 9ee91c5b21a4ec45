import DiscoCore
import Foundation
import Synchronization

// MARK: - Streams through the gateway

extension EtcdGateway {
    /// POSTs a JSON body to a streaming gateway path (`/v3/watch`) and returns the open response
    /// once its head arrived, failing over between endpoints as ``call(_:_:record:)`` does.
    /// Returns the endpoint that answered too.
    func openStream(_ path: String, _ body: [String: Any], record: String) async throws -> (HTTPStreamedExchangeResponse, String) {
        guard let streaming = transport as? any HTTPStreamExchanging else {
            throw DiscoveryError(.unreachable, server: endpoints.joined(separator: ","), record: record,
                                 detail: "this transport cannot stream response bodies (etcd watches need it)")
        }
        let payload = Array(try JSONSerialization.data(withJSONObject: body))
        return try await withFailover(record: record) { endpoint in
            var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
            if let auth = try await self.authToken(endpoint: endpoint, record: record) { headers.append(("Authorization", auth)) }
            let response = try await streaming.openStream(
                HTTPExchangeRequest(method: "POST", url: endpoint + path, headers: headers, body: payload), timeout: self.timeout)
            guard response.status == 200 else {
                var text: [UInt8] = []
                while text.count < 4096, let piece = try? await response.next() { text += piece }
                response.close()
                throw DiscoveryError(.serverError, server: endpoint, record: record,
                                     detail: "HTTP \(response.status): \(String(decoding: text, as: UTF8.self))")
            }
            return response
        }
    }

    /// Moves the preferred endpoint past `endpoint` (it failed mid-stream), so the next call
    /// tries another first.
    func skip(_ endpoint: String) {
        guard let index = endpoints.firstIndex(of: endpoint) else { return }
        state.withLock { if $0.preferred == index { $0.preferred = (index + 1) % endpoints.count } }
    }
}
