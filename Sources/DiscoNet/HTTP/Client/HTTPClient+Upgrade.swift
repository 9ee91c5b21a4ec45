// MARK: - Leaving HTTP: protocol upgrades

/// The answer to ``HTTPClient/upgrade(_:timeout:)``: the response head, and the raw connection
/// when the server switched protocols.
public struct HTTPClientUpgradeResult: Sendable {
    /// The server's response: `101` (head only) when it switched, otherwise its refusal with body.
    public let response: HTTPClientResponse
    /// The connection, now speaking the new protocol; nil when the server did not switch.
    public let upgraded: HTTPUpgradedConnection?
}

extension HTTPClient {
    /// Sends a request that asks to switch protocols (with `Upgrade` and `Connection: Upgrade`
    /// headers, for example a WebSocket handshake) on a new connection that never joins the
    /// pool. On `101 Switching Protocols` the connection is returned for the new protocol, with
    /// any bytes that came right after the head; otherwise the response is returned whole and the
    /// connection closed. `timeout` bounds the exchange up to the response.
    public func upgrade(_ request: HTTPClientRequest, timeout: Duration? = nil) async throws -> HTTPClientUpgradeResult {
        let url = try request.parsedURL()
        let limit = timeout ?? configuration.requestTimeout
        let host = url.authority
        return try await withDeadline(limit, host: host) {
            let connection: TCPConnection
            do {
                connection = try await TCPConnection.connect(
                    host: url.host, port: url.port, timeout: self.configuration.connectTimeout, group: self.group,
                    transport: self.configuration.transport(for: url))
            } catch {
                throw Self.connectError(error, host: host)
            }
            do {
                let exchange = HTTPClientExchange(connection: connection, url: url, limits: self.configuration.limits)
                let started = try await exchange.start(request, allowsProtocolSwitch: true)
                let head = started.head
                if head.status == 101 {
                    let response = HTTPClientResponse(status: head.status, reason: head.reason, version: head.version,
                                                      headers: head.headers, body: [], trailers: HTTPHeaders())
                    return HTTPClientUpgradeResult(
                        response: response, upgraded: HTTPUpgradedConnection(connection: connection, initialBytes: started.reader.leftover))
                }
                let stream = HTTPClientResponseStream(host: host, connection: connection, reader: started.reader, keepAlive: false,
                                                      upload: started.upload, release: { _ in })
                let body = HTTPClientResponseBody(stream: stream)
                let bytes = try await body.collect(upTo: Int.max)
                let response = HTTPClientResponse(status: head.status, reason: head.reason, version: head.version,
                                                  headers: head.headers, body: bytes, trailers: body.trailers)
                return HTTPClientUpgradeResult(response: response, upgraded: nil)
            } catch let failure as HTTPClientExchange.Failure {
                connection.close()
                throw failure.error
            } catch {
                connection.close()
                throw error
            }
        }
    }
}
