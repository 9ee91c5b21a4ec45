// MARK: - What HTTPClientResponseReader needs of the client, and no more

/// Stands in for DiscoNet's `HTTPClientError` (whose file needs the rest of the client) in this
/// harness: the reader reports a connection closed early with it.
struct HTTPClientError: Error, Hashable, Sendable {
    struct Code: Hashable, Sendable {
        let name: String
        static let malformedResponse = Code(name: "malformed response")
        static let connectionClosed = Code(name: "connection closed")
    }

    let code: Code
    let host: String
    let detail: String

    init(_ code: Code, host: String, detail: String = "") {
        self.code = code
        self.host = host
        self.detail = detail
    }
}

/// Stands in for DiscoNet's `TCPConnection` (sockets and the event loop): the harness drives the
/// reader's inline path (`receive`, `nextHead`), which never reads from a connection.
final class TCPConnection: Sendable {
    func read() async throws -> [UInt8]? { nil }
}
