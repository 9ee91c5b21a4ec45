// MARK: - Internode frames

/// One internode message: a type byte and a payload.
///
/// On the wire: `length` (4 bytes, big-endian, counting everything after itself), `version`
/// (1 byte, currently 1), `type` (1 byte), then the payload. So `length = 2 + payload.count`.
public struct Frame: Sendable, Hashable {
    /// The application-defined message type.
    public var type: UInt8
    public var payload: [UInt8]

    public init(type: UInt8, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    /// The wire format version this code writes and accepts.
    public static let version: UInt8 = 1
    /// Bytes before the payload: length (4), version (1), type (1).
    public static let headerSize = 6
    /// Default cap on a payload.
    public static let defaultMaxPayloadBytes = 16 * 1024 * 1024

    /// The frame as bytes on the wire.
    public func encoded() -> [UInt8] {
        let length = UInt32(payload.count + 2)
        var out: [UInt8] = []
        out.reserveCapacity(Frame.headerSize + payload.count)
        out.append(UInt8(truncatingIfNeeded: length >> 24))
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(Frame.version)
        out.append(type)
        out.append(contentsOf: payload)
        return out
    }
}

/// A frame stream that cannot be read: what is wrong and what was expected.
public struct FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        public static let oversize = Code(name: "frame too large")
        public static let undersize = Code(name: "frame too short")
        public static let unknownVersion = Code(name: "unknown frame version")
        public static let truncated = Code(name: "truncated frame")
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}

// MARK: - Incremental decoder

/// Turns a byte stream into frames. Pure: append bytes, take frames. A malformed stream is
/// rejected at the header (before buffering an oversize payload), and the decoder stays failed.
public struct FrameDecoder: Sendable {
    public let maxPayloadBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: FrameError?

    public init(maxPayloadBytes: Int = Frame.defaultMaxPayloadBytes) {
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedBytes: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, nil when more bytes are needed.
    public mutating func next() throws(FrameError) -> Frame? {
        if let failure { throw failure }
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        let length = Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
        if length < 2 {
            return try fail(FrameError(.undersize, "length \(length) is below 2 (version and type bytes)"))
        }
        if length - 2 > maxPayloadBytes {
            // A TLS record header (0x16 0x03: a handshake, TLS 1.x) reads as a length of about
            // 369 MB: the peer is configured with TLS and this side without.
            if buffer[start] == 0x16 && buffer[start + 1] == 0x03 {
                return try fail(FrameError(.oversize, "the peer began a TLS handshake, but this port does not speak TLS "
                    + "(give every node the same TLS flags: -node-cert, -node-key, -node-ca-cert)"))
            }
            return try fail(FrameError(.oversize, "payload of \(length - 2) bytes exceeds the limit of \(maxPayloadBytes)"))
        }
        guard available >= 5 else { return nil }
        let version = buffer[start + 4]
        if version != Frame.version {
            return try fail(FrameError(.unknownVersion, "version \(version); this node speaks version \(Frame.version)"))
        }
        guard available >= 4 + length else { return nil }
        let type = buffer[start + 5]
        let payload = Array(buffer[(start + Frame.headerSize)..<(start + 4 + length)])
        start += 4 + length
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return Frame(type: type, payload: payload)
    }

    private mutating func fail(_ error: FrameError) throws(FrameError) -> Frame? {
        failure = error
        throw error
    }

    /// Called at end of stream: fails if a partial frame is pending.
    public func finish() throws(FrameError) {
        if let failure { throw failure }
        if bufferedBytes > 0 {
            throw FrameError(.truncated, "stream ended inside a frame (\(bufferedBytes) bytes pending)")
        }
    }
}
