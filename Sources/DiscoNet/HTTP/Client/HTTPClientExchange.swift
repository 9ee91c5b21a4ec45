// MARK: - One request/response exchange on one connection

/// Writes one request and reads its response head on a connection, tracking how far it got so
/// the client can decide whether a retry is safe. The body is read afterwards through an
/// ``HTTPClientResponseStream``.
struct HTTPClientExchange {
    struct Failure: Error {
        let error: any Error
        let requestWritten: Bool
        let receivedResponseBytes: Bool
    }

    /// The head has arrived; the reader holds whatever was read past it.
    struct Started: Sendable {
        let head: HTTPResponseHead
        var reader: HTTPClientResponseReader
        let upload: HTTPClientUpload?

        /// Whether the connection may carry another request after this response (before
        /// checking that the body was read exactly to its end).
        var keepAlive: Bool {
            !reader.readsUntilClose && !head.headers.hasToken("close", in: "Connection")
                && (head.version.minor >= 1 || head.headers.hasToken("keep-alive", in: "Connection"))
        }
    }

    let connection: TCPConnection
    let url: HTTPURL
    let limits: HTTPParserLimits
    /// What `limits.maxBodyBytes` bounds: the whole body for a response read whole, each chunk
    /// for one read as a stream.
    var bodyLimitScope: HTTPBodyLimitScope = .wholeBody

    /// Sends the head (with a fixed body, or starting to stream the body) and reads until the
    /// response head. Throws ``Failure``.
    func start(_ request: HTTPClientRequest, allowsProtocolSwitch: Bool = false) async throws -> Started {
        let host = url.authority
        var written = false
        var upload: HTTPClientUpload?
        var reader = HTTPClientResponseReader(requestMethod: request.method, limits: limits, allowsProtocolSwitch: allowsProtocolSwitch,
                                              bodyLimitScope: bodyLimitScope)
        do {
            try await connection.write(encode(request))
            written = true
            if let stream = request.bodyStream { upload = .start(stream, on: connection) }
            while let event = try await reader.next(from: connection, host: host) {
                switch event {
                case .head(let head):
                    return Started(head: head, reader: reader, upload: upload)
                case .interim(let head):
                    // Handed on now, while the final head is still to come.
                    if let onInterim = request.onInterim { await onInterim(HTTPInterimResponse(head)) }
                case .body, .end:
                    continue
                }
            }
            throw HTTPClientError(.malformedResponse, host: host, detail: "no response head")
        } catch {
            upload?.cancel()
            throw Failure(error: upload?.failure ?? HTTPClientError.describing(error, host: host),
                          requestWritten: written, receivedResponseBytes: reader.receivedBytes)
        }
    }

    /// Methods whose empty body is still announced (`Content-Length: 0`).
    static func sendsEmptyLength(_ method: String) -> Bool {
        switch method {
        case "POST", "PUT", "PATCH": true
        default: false
        }
    }

    func encode(_ request: HTTPClientRequest) -> [UInt8] { Self.encode(request, url: url) }

    /// The request's head (and a fixed body) as sent to `url`.
    static func encode(_ request: HTTPClientRequest, url: HTTPURL) -> [UInt8] {
        let fixedBody = request.bodyStream == nil ? request.body : []
        var out: [UInt8] = []
        out.reserveCapacity(256 + fixedBody.count)
        out.append(contentsOf: request.method.utf8)
        out.append(HTTPSyntax.space)
        out.append(contentsOf: url.target.utf8)
        out.append(contentsOf: " HTTP/1.1\r\n".utf8)
        if !request.headers.contains("Host") {
            out.append(contentsOf: "Host: ".utf8)
            out.append(contentsOf: url.authority.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        for field in request.headers {
            if HTTPHeaders.namesEqual(field.name, "Content-Length") || HTTPHeaders.namesEqual(field.name, "Transfer-Encoding") {
                continue
            }
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: ": ".utf8)
            for byte in field.value.utf8 { out.append(byte == 13 || byte == 10 ? 32 : byte) }
            out.append(contentsOf: "\r\n".utf8)
        }
        if let stream = request.bodyStream {
            if let length = stream.length {
                out.append(contentsOf: "Content-Length: \(length)\r\n".utf8)
            } else {
                out.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8)
            }
        } else if !fixedBody.isEmpty || sendsEmptyLength(request.method) {
            out.append(contentsOf: "Content-Length: ".utf8)
            HTTPResponseEncoder.appendDecimal(fixedBody.count, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        out.append(contentsOf: fixedBody)
        return out
    }
}
