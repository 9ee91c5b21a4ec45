// MARK: - Leaving HTTP: protocol upgrades

/// The answer to ``HTTPClient/upgrade(_:timeout:)``: the response head, and the raw connection
/// when the server switched protocols.
public struct HTTPClientUpgradeResult: Sendable {
    /// The server's response: `101` (head only) when it switched, otherwise its refusal with body.
    public let response: HTTPClientResponse
    /// The connection, now speaking the new protocol; nil when the server did not switch.
    public let upgraded: HTTPUpgradedConnection?
}

/// The answer to ``HTTPClient/executeUpgrade(_:timeout:)``: the new protocol's connection, or
/// the server's ordinary response with its body still to be read.
public enum HTTPClientUpgradeOutcome: Sendable {
    /// The server switched protocols: its `101` (head only, no body) and the connection, now
    /// speaking the new protocol.
    case switched(HTTPClientResponse, HTTPUpgradedConnection)
    /// The server answered without switching: its response, the body read as it arrives. The
    /// connection is closed after the body's end (or when the body is abandoned); it never
    /// joins the pool.
    case answered(HTTPClientStreamingResponse)
}

extension HTTPClient {
    // MARK: Streaming

    /// Sends a request that asks to switch protocols (with `Upgrade` and `Connection: Upgrade`
    /// headers, for example a WebSocket handshake) on a new connection that never joins the
    /// pool, and returns as soon as the response head has arrived. On `101 Switching Protocols`
    /// the connection is returned for the new protocol, with any bytes that came right after the
    /// head; otherwise the response is returned with its body to be read as a stream, as
    /// ``execute(_:timeout:)`` returns it.
    ///
    /// `timeout` bounds the exchange up to the response head; reading the body is bounded by the
    /// caller (dropping the response or closing its body closes the connection).
    public func executeUpgrade(_ request: HTTPClientRequest, timeout: Duration? = nil) async throws -> HTTPClientUpgradeOutcome {
        let url = try request.parsedURL()
        return try await withDeadline(timeout ?? configuration.requestTimeout, host: url.authority) {
            try await self.startUpgrade(request, url: url)
        }
    }

    // MARK: Collecting

    /// Sends a request that asks to switch protocols, as ``executeUpgrade(_:timeout:)`` does,
    /// but a response that does not switch is returned whole (its body read to the end, without
    /// a size limit) and the connection closed. `timeout` bounds the exchange up to the response,
    /// its body included.
    public func upgrade(_ request: HTTPClientRequest, timeout: Duration? = nil) async throws -> HTTPClientUpgradeResult {
        let url = try request.parsedURL()
        return try await withDeadline(timeout ?? configuration.requestTimeout, host: url.authority) {
            switch try await self.startUpgrade(request, url: url) {
            case .switched(let response, let upgraded):
                return HTTPClientUpgradeResult(response: response, upgraded: upgraded)
            case .answered(let answer):
                let bytes = try await answer.body.collect(upTo: Int.max)
                let response = HTTPClientResponse(status: answer.status, reason: answer.reason, version: answer.version,
                                                  headers: answer.headers, body: bytes, trailers: answer.body.trailers)
                return HTTPClientUpgradeResult(response: response, upgraded: nil)
            }
        }
    }

    // MARK: Internals

    /// Connects, sends `request` and reads up to the response head (no deadline of its own).
    private func startUpgrade(_ request: HTTPClientRequest, url: HTTPURL) async throws -> HTTPClientUpgradeOutcome {
        let host = url.authority
        let connection: TCPConnection
        do {
            connection = try await TCPConnection.connect(
                host: url.host, port: url.port, timeout: configuration.connectTimeout, group: try connectionGroup(host: host),
                transport: configuration.transport(for: url), excluding: configuration.addressFilter)
        } catch {
            throw Self.connectError(error, host: host)
        }
        do {
            let exchange = HTTPClientExchange(connection: connection, url: url, limits: configuration.limits)
            let started = try await exchange.start(request, allowsProtocolSwitch: true)
            let head = started.head
            if head.status == 101 {
                let response = HTTPClientResponse(status: head.status, reason: head.reason, version: head.version,
                                                  headers: head.headers, body: [], trailers: HTTPHeaders())
                return .switched(response, HTTPUpgradedConnection(connection: connection, initialBytes: started.reader.leftover))
            }
            // Not pooled: the stream closes the connection at the body's end or when abandoned.
            let stream = HTTPClientResponseStream(host: host, connection: connection, reader: started.reader, keepAlive: false,
                                                  upload: started.upload, release: { _ in })
            stream.finishIfBodyless()
            return .answered(HTTPClientStreamingResponse(status: head.status, reason: head.reason, version: head.version,
                                                         headers: head.headers, body: HTTPClientResponseBody(stream: stream)))
        } catch let failure as HTTPClientExchange.Failure {
            connection.close()
            throw failure.error
        } catch {
            connection.close()
            throw error
        }
    }
}
