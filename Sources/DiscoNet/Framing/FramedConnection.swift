// MARK: - Frames over a TCP connection

/// Sends and receives ``Frame``s over a ``TCPConnection``.
///
/// `send` may be called from many tasks (writes are queued in order); `frames()` is iterated by
/// one task at a time.
public final class FramedConnection: Sendable {
    public let connection: TCPConnection
    public let maxPayloadBytes: Int

    public init(_ connection: TCPConnection, maxPayloadBytes: Int = Frame.defaultMaxPayloadBytes) {
        self.connection = connection
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Connects to `host:port` over `transport` (plain TCP by default) and wraps the connection.
    /// Without a `group`, on the shared one (started now if it is not yet; a failure throws).
    public static func connect(
        host: String, port: UInt16, timeout: Duration = .seconds(5),
        maxPayloadBytes: Int = Frame.defaultMaxPayloadBytes, group: EventLoopGroup? = nil,
        transport: any ByteStreamTransportFactory = PlainTransportFactory()
    ) async throws -> FramedConnection {
        FramedConnection(try await TCPConnection.connect(host: host, port: port, timeout: timeout, group: group, transport: transport),
                         maxPayloadBytes: maxPayloadBytes)
    }

    /// Sends one frame. Payloads over the limit are refused before anything is written.
    public func send(_ frame: Frame) async throws {
        guard frame.payload.count <= maxPayloadBytes else {
            throw FrameError(.oversize, "payload of \(frame.payload.count) bytes exceeds the limit of \(maxPayloadBytes)")
        }
        try await connection.write(frame.encoded())
    }

    /// Incoming frames until the peer closes. Throws ``FrameError`` on a malformed stream (the
    /// connection is then closed) and ``NetworkError`` on I/O failure.
    public func frames() -> FrameSequence {
        FrameSequence(connection: connection, maxPayloadBytes: maxPayloadBytes)
    }

    public func close() { connection.close() }
}

/// The frames arriving on a connection, read on demand.
public struct FrameSequence: AsyncSequence, Sendable {
    public typealias Element = Frame
    let connection: TCPConnection
    let maxPayloadBytes: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(connection: connection, decoder: FrameDecoder(maxPayloadBytes: maxPayloadBytes))
    }

    public struct Iterator: AsyncIteratorProtocol {
        let connection: TCPConnection
        var decoder: FrameDecoder

        public mutating func next() async throws -> Frame? {
            while true {
                do {
                    if let frame = try decoder.next() { return frame }
                } catch {
                    connection.close()
                    throw error
                }
                guard let bytes = try await connection.read() else {
                    try decoder.finish()
                    return nil
                }
                decoder.append(bytes)
            }
        }
    }
}
