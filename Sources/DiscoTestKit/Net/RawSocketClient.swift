#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import DiscoNet
import Dispatch

// MARK: - A blocking socket client that sends exact bytes

/// Failure of the raw test client.
public struct RawSocketError: Error, CustomStringConvertible {
    public let description: String
    /// The `errno` of a failed system call (0 when none).
    public var errnoCode: Int32 = 0

    /// Whether a send failed because the peer had already closed the connection (reset or
    /// pipe closed): its answer, if any, is waiting to be read.
    public var peerHasClosed: Bool { errnoCode == ECONNRESET || errnoCode == EPIPE }
}

/// A response as read by ``RawSocketClient``: deliberately naive, independent of DiscoNet's parser.
public struct RawResponse: Sendable, CustomStringConvertible {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
    public var description: String { "\(status) \(headers.map { "\($0.name): \($0.value)" }) \(bodyText)" }
}

/// A plain blocking TCP client for tests: sends exactly the bytes given and reads raw responses,
/// so server behaviour is checked against the wire, not against our own client. Every read is
/// bounded by a receive timeout (a hang fails the test instead of stalling it).
public final class RawSocketClient: @unchecked Sendable {
    // @unchecked Sendable: a test drives one client sequentially (each call is awaited before the
    // next); the blocking work of a call runs on a Dispatch thread so the cooperative pool stays free.
    public let fd: Int32
    private var pending: [UInt8] = []
    /// Whether the stream ended with a reset (`ECONNRESET`) rather than the peer's orderly close:
    /// the reads above treat both as the end, this tells them apart.
    public private(set) var endedWithReset = false

    /// Connects to `address` with a receive timeout of `timeoutSeconds`.
    public init(connectTo address: SocketAddress, timeoutSeconds: Int = 10) throws {
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError(description: "socket failed: errno \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        guard let numeric = SocketAddress(numericHost: address.host, port: address.port) else {
            throw RawSocketError(description: "bad address \(address)")
        }
        var result: Int32 = -1
        if numeric.isIPv6 {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = address.port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: numeric.addressBytes) }
            result = withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = address.port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: numeric.addressBytes) }
            result = withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard result == 0 else {
            // No close here: `self` is fully initialized, so deinit runs and closes `fd`. Closing
            // it twice could close a descriptor another thread has just been given.
            throw RawSocketError(description: "connect to \(address) failed: errno \(errno)")
        }
    }

    deinit { close(fd) }

    // MARK: Sending

    /// Sends `text` exactly as given (write `\r\n` yourself).
    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, UnsafeRawBufferPointer(rebasing: raw[offset...]).baseAddress, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw RawSocketError(description: "send failed: errno \(errno)", errnoCode: errno) }
            offset += sent
        }
    }

    /// Sends `bytes` from a Dispatch thread, so a send that blocks (the peer is not reading)
    /// does not hold a thread of the cooperative pool.
    public func sendAsync(_ bytes: [UInt8]) async throws {
        try await offPool { try self.send(bytes) }
    }

    /// Half-closes: tells the server no more bytes will come.
    public func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    // MARK: Receiving

    /// Reads more bytes into the pending buffer. Returns false at end of stream (or reset).
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                pending.append(contentsOf: chunk[0..<count])
                return true
            }
            if count == 0 { return false }
            let code = errno
            if code == EINTR { continue }
            if code == ECONNRESET {
                endedWithReset = true
                return false
            }
            throw RawSocketError(description: "recv failed or timed out: errno \(code)")
        }
    }

    /// Waits up to `milliseconds` for data or end of stream; true when something is readable.
    private func waitReadableBlocking(milliseconds: Int32) -> Bool {
        if !pending.isEmpty { return true }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    private func takeLine() throws -> String? {
        while true {
            if let index = pending.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(pending[..<index])
                pending.removeFirst(index + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { return nil }
        }
    }

    private func take(_ count: Int) throws -> [UInt8] {
        while pending.count < count {
            guard try fill() else { throw RawSocketError(description: "connection closed inside a body") }
        }
        let bytes = Array(pending[..<count])
        pending.removeFirst(count)
        return bytes
    }

    /// Reads one response (including a `100 Continue`). `headRequest` skips the body.
    public func readResponse(headRequest: Bool = false) async throws -> RawResponse {
        try await offPool { try self.readResponseBlocking(headRequest: headRequest) }
    }

    private func readResponseBlocking(headRequest: Bool) throws -> RawResponse {
        guard let statusLine = try takeLine() else { throw RawSocketError(description: "connection closed before a response") }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw RawSocketError(description: "bad status line '\(statusLine)'") }
        var headers: [(name: String, value: String)] = []
        while let line = try takeLine(), !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw RawSocketError(description: "bad header '\(line)'") }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: " ")))
        }
        let response = { (body: [UInt8]) in RawResponse(status: status, headers: headers, body: body) }
        if headRequest || status < 200 || status == 204 || status == 304 { return response([]) }
        let lookup = { (name: String) in headers.first { $0.name.lowercased() == name }?.value }
        if let length = lookup("content-length"), let count = Int(length) { return response(try take(count)) }
        if lookup("transfer-encoding")?.lowercased() == "chunked" {
            var body: [UInt8] = []
            while true {
                guard let sizeLine = try takeLine(), let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                    throw RawSocketError(description: "bad chunk size line")
                }
                if size == 0 {
                    while let line = try takeLine(), !line.isEmpty {}
                    return response(body)
                }
                body += try take(size)
                _ = try take(2)
            }
        }
        return response(try readUntilCloseBlocking())
    }

    /// Reads exactly `count` raw bytes (after a protocol switch, for example).
    public func read(count: Int) async throws -> [UInt8] {
        try await offPool { try self.take(count) }
    }

    /// True when bytes (or the end of stream) are already waiting, without blocking. On loopback
    /// a byte the server has sent is in this socket's queue once `send` returned there, so this
    /// tells whether the server has sent anything yet.
    public func hasBytesWaiting() -> Bool {
        if !pending.isEmpty { return true }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) >= 0
    }

    /// Reads everything until the peer closes.
    public func readUntilClose() async throws -> [UInt8] {
        try await offPool { try self.readUntilCloseBlocking() }
    }

    private func readUntilCloseBlocking() throws -> [UInt8] {
        while try fill() {}
        defer { pending.removeAll() }
        return pending
    }

    /// True when the peer has closed: end of stream (or reset) with no further bytes.
    public func isClosedByPeer() async throws -> Bool {
        try await offPool {
            if !self.pending.isEmpty { return false }
            return try !self.fill()
        }
    }

    /// Waits up to `milliseconds` for data or end of stream; true when something is readable.
    public func waitReadable(milliseconds: Int32) async -> Bool {
        await (try? offPool { self.waitReadableBlocking(milliseconds: milliseconds) }) ?? false
    }

    private func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await BlockingWork.run("disco.testkit.raw-socket", work)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text = text.dropFirst() }
        while text.last == set { text = text.dropLast() }
        return String(text)
    }
}
