// MARK: - One request/response exchange on one connection

/// Writes one request and reads its response on a connection, tracking how far it got so the
/// client can decide whether a retry is safe.
struct HTTPClientExchange {
    struct Failure: Error {
        let error: any Error
        let requestWritten: Bool
        let receivedResponseBytes: Bool
    }

    let connection: TCPConnection
    let url: HTTPURL
    let limits: HTTPParserLimits

    /// Returns the response and whether the connection may be reused.
    func run(_ request: HTTPClientRequest) async throws -> (HTTPClientResponse, Bool) {
        let host = url.authority
        var written = false
        var received = false
        do {
            try await connection.write(encode(request))
            written = true
            var parser = HTTPResponseParser(requestMethod: request.method, limits: limits)
            var pending: [UInt8] = []
            var events: [HTTPResponseParserEvent] = []
            var head: HTTPResponseHead?
            var body: [UInt8] = []
            var trailers = HTTPHeaders()
            while !parser.isComplete {
                guard let bytes = try await connection.read() else {
                    if !received {
                        throw HTTPClientError(.connectionClosed, host: host, detail: "closed before any response byte")
                    }
                    try parser.finish(into: &events)
                    break
                }
                received = true
                pending.append(contentsOf: bytes)
                let consumed = try pending.withUnsafeBufferPointer { buffer throws(HTTPParseError) in
                    try parser.parse(buffer, into: &events)
                }
                pending.removeFirst(consumed)
                for event in events {
                    switch event {
                    case .head(let value): head = value
                    case .body(let piece): body.append(contentsOf: piece)
                    case .end(let values): trailers = values
                    }
                }
                events.removeAll(keepingCapacity: true)
            }
            for event in events {
                if case .end(let values) = event { trailers = values }
            }
            guard let head else { throw HTTPClientError(.malformedResponse, host: host, detail: "no response head") }
            let keepAlive = !parser.readsUntilClose && pending.isEmpty
                && !head.headers.hasToken("close", in: "Connection")
                && (head.version.minor >= 1 || head.headers.hasToken("keep-alive", in: "Connection"))
            let response = HTTPClientResponse(status: head.status, reason: head.reason, version: head.version,
                                              headers: head.headers, body: body, trailers: trailers)
            return (response, keepAlive)
        } catch let error as HTTPParseError {
            throw Failure(error: HTTPClientError(.malformedResponse, host: host, detail: error.reason),
                          requestWritten: written, receivedResponseBytes: received)
        } catch let error as NetworkError {
            throw Failure(error: HTTPClientError(.connectionClosed, host: host, detail: error.description),
                          requestWritten: written, receivedResponseBytes: received)
        } catch let error as HTTPClientError {
            throw Failure(error: error, requestWritten: written, receivedResponseBytes: received)
        }
    }

    private func encode(_ request: HTTPClientRequest) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + request.body.count)
        out.append(contentsOf: "\(request.method) \(url.target) HTTP/1.1\r\n".utf8)
        if !request.headers.contains("Host") { out.append(contentsOf: "Host: \(url.authority)\r\n".utf8) }
        for field in request.headers {
            if HTTPHeaders.namesEqual(field.name, "Content-Length") || HTTPHeaders.namesEqual(field.name, "Transfer-Encoding") {
                continue
            }
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: ": ".utf8)
            for byte in field.value.utf8 { out.append(byte == 13 || byte == 10 ? 32 : byte) }
            out.append(contentsOf: "\r\n".utf8)
        }
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) {
            out.append(contentsOf: "Content-Length: \(request.body.count)\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        out.append(contentsOf: request.body)
        return out
    }
}
