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
        var failures: [String] = []
        var lastKind = DiscoveryError.Kind.unreachable
        let preferred = state.withLock { $0.preferred }
        for offset in 0..<endpoints.count {
            let index = (preferred + offset) % endpoints.count
            let endpoint = endpoints[index]
            do {
                var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
                if let auth = try await authToken(endpoint: endpoint, record: record) { headers.append(("Authorization", auth)) }
                let response = try await streaming.openStream(
                    HTTPExchangeRequest(method: "POST", url: endpoint + path, headers: headers, body: payload), timeout: timeout)
                guard response.status == 200 else {
                    var text: [UInt8] = []
                    while text.count < 4096, let piece = try? await response.next() { text += piece }
                    response.close()
                    throw DiscoveryError(.serverError, server: endpoint, record: record,
                                         detail: "HTTP \(response.status): \(String(decoding: text, as: UTF8.self))")
                }
                state.withLock { $0.preferred = index }
                return (response, endpoint)
            } catch let error as DiscoveryError where error.kind == .unauthorized || error.kind == .serverError {
                throw error
            } catch {
                if let error = error as? DiscoveryError { lastKind = error.kind }
                failures.append("\(endpoint): \(error)")
            }
        }
        throw DiscoveryError(lastKind, server: endpoints.joined(separator: ","), record: record,
                             detail: "no etcd endpoint answered (\(failures.joined(separator: "; ")))")
    }

    /// Moves the preferred endpoint past `endpoint` (it failed mid-stream), so the next call
    /// tries another first.
    func skip(_ endpoint: String) {
        guard let index = endpoints.firstIndex(of: endpoint) else { return }
        state.withLock { if $0.preferred == index { $0.preferred = (index + 1) % endpoints.count } }
    }
}
