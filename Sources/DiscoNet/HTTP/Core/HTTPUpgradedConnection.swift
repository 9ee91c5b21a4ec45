// MARK: - Connections after a protocol switch

/// A connection that has left HTTP: after `101 Switching Protocols` or a `2xx` answer to
/// `CONNECT`, on the server (``HTTPResponseBody/handOff(_:)``) or on the client
/// (``HTTPClient/upgrade(_:timeout:)``).
///
/// `initialBytes` are bytes that arrived after the HTTP message on the same read (the first bytes
/// of the new protocol); consume them before reading from `connection`.
public struct HTTPUpgradedConnection: Sendable {
    /// The raw stream, now owned by whoever received it.
    public let connection: TCPConnection
    /// Bytes already read past the HTTP message.
    public let initialBytes: [UInt8]

    public init(connection: TCPConnection, initialBytes: [UInt8]) {
        self.connection = connection
        self.initialBytes = initialBytes
    }

    /// Copies bytes both ways between this connection and `other` until both directions end
    /// (see ``TCPConnection/splice(with:pendingForOther:pendingForSelf:idleTimeout:)``), passing
    /// each side's initial bytes to the other first; with `idleTimeout`, both are closed once no
    /// bytes have moved either way for that long.
    @discardableResult
    public func splice(with other: HTTPUpgradedConnection, idleTimeout: Duration? = nil) async -> SpliceResult {
        await connection.splice(with: other.connection, pendingForOther: initialBytes, pendingForSelf: other.initialBytes,
                                idleTimeout: idleTimeout)
    }
}
