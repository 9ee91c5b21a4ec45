import DiscoNet
import DiscoTestKit
import Testing

// MARK: - Helpers for server tests

/// Starts a server on 127.0.0.1 port 0, runs `body`, and shuts the server down.
func withServer<T>(
    _ configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
    handler: @escaping HTTPHandler = echoHandler,
    _ body: (HTTPServer) async throws -> T
) async throws -> T {
    let server = try await HTTPServer.start(configuration: configuration, handler: handler)
    do {
        let result = try await body(server)
        await server.shutdown(gracePeriod: .seconds(5))
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(5))
        throw error
    }
}

/// Starts a server with a streaming `responder` behind `middleware` on `group`'s loops, runs
/// `body`, and shuts the server down.
func withServer<T>(
    _ configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
    group: EventLoopGroup = .shared,
    middleware: [any HTTPMiddleware] = [],
    responder: HTTPResponder,
    _ body: (HTTPServer) async throws -> T
) async throws -> T {
    let server = try await HTTPServer.start(configuration: configuration, group: group, middleware: middleware, responder: responder)
    do {
        let result = try await body(server)
        await server.shutdown(gracePeriod: .seconds(5))
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(5))
        throw error
    }
}

/// Answers with `METHOD target` plus the body, and a trailer echo when present.
let echoHandler: HTTPHandler = { request in
    var text = "\(request.method) \(request.target)"
    if !request.body.isEmpty { text += " body=\(request.bodyText)" }
    if let trailer = request.trailers["X-Checksum"] { text += " trailer=\(trailer)" }
    return .text(text)
}

func connect(_ server: HTTPServer) throws -> RawSocketClient {
    try RawSocketClient(connectTo: server.localAddress)
}

/// Sends `request` on a new connection and returns the response and the connection.
func exchange(_ server: HTTPServer, _ request: String) async throws -> (RawResponse, RawSocketClient) {
    let client = try connect(server)
    try client.send(request)
    let response = try await client.readResponse()
    return (response, client)
}

/// Sends `request`, expects `status`, and expects the server to close the connection afterwards.
func expectRejected(_ server: HTTPServer, _ request: String, status: Int, reason: String? = nil,
                    sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let (response, client) = try await exchange(server, request)
    #expect(response.status == status, "\(response)", sourceLocation: sourceLocation)
    if let reason {
        #expect(response.bodyText.contains(reason), "\(response.bodyText)", sourceLocation: sourceLocation)
    }
    #expect(response.header("Connection") == "close", sourceLocation: sourceLocation)
    #expect(try await client.isClosedByPeer(), "connection still open", sourceLocation: sourceLocation)
}
