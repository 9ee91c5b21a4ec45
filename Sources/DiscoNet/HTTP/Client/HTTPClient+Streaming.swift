import DiscoCore

// MARK: - HTTPClient as a streaming transport

extension HTTPClient: HTTPStreamExchanging {
    /// Opens a request whose response body is read as it arrives (etcd's watch stream), with
    /// transport failures turned into ``DiscoveryError``s as ``exchange(_:timeout:)`` does.
    public func openStream(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPStreamedExchangeResponse {
        var headers = HTTPHeaders()
        for header in request.headers { headers.add(name: header.name, value: header.value) }
        let response: HTTPClientStreamingResponse
        do {
            response = try await execute(
                HTTPClientRequest(method: request.method, url: request.url, headers: headers, body: request.body),
                timeout: timeout)
        } catch let error as HTTPClientError {
            throw Self.discoveryError(error, url: request.url)
        }
        let body = response.body
        let url = request.url
        return HTTPStreamedExchangeResponse(
            status: response.status, headers: response.headers.map { (name: $0.name, value: $0.value) },
            next: {
                do {
                    return try await body.stream.next()
                } catch let error as HTTPClientError {
                    throw Self.discoveryError(error, url: url)
                }
            },
            close: { body.close() })
    }

    static func discoveryError(_ error: HTTPClientError, url: String) -> DiscoveryError {
        let kind: DiscoveryError.Kind = switch error.code {
        case .timeout, .connectTimeout: .timeout
        case .malformedResponse: .malformed
        default: .unreachable
        }
        return DiscoveryError(kind, server: error.host, record: path(of: url), detail: "\(error)")
    }
}
