import DiscoCore
import DiscoNet
import Dispatch
@preconcurrency import Glibc

// MARK: - LoopbackHTTPExchange

/// ``HTTPExchanging`` for tests that talk to real servers on IPv4 loopback (etcd, a real Consul
/// agent): one blocking connection per request (`Connection: close`) on a dispatch queue, the
/// response read with DiscoNet's strict parser. Independent of DiscoNet's pooled client, so
/// the backends can be tested against real servers on their own.
public struct LoopbackHTTPExchange: HTTPExchanging {
    public init() {}

    public func exchange(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPExchangeResponse {
        let (address, target) = try Self.split(request.url)
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "disco.testkit.http").async {
                continuation.resume(with: Result { try Self.blockingExchange(request, address: address, target: target, timeout: timeout) })
            }
        }
    }

    static func split(_ url: String) throws -> (PeerAddress, String) {
        guard url.hasPrefix("http://") else {
            throw DiscoveryError(.malformed, server: url, record: url, detail: "only http:// URLs are supported here")
        }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let address = try PeerAddress(parsing: String(rest[..<slash]), defaultPort: 80)
        return (address, slash == rest.endIndex ? "/" : String(rest[slash...]))
    }

    static func blockingExchange(_ request: HTTPExchangeRequest, address: PeerAddress, target: String,
                                 timeout: Duration) throws -> HTTPExchangeResponse {
        let server = address.description
        func failure(_ kind: DiscoveryError.Kind, _ detail: String) -> DiscoveryError {
            DiscoveryError(kind, server: server, record: target, detail: detail)
        }
        let host = address.host == "localhost" ? "127.0.0.1" : address.host
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = address.port.bigEndian
        guard inet_pton(AF_INET, host, &socketAddress.sin_addr) == 1 else {
            throw failure(.malformed, "only IPv4 literals are supported here, got \(host)")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure(.unreachable, "socket() failed: errno \(errno)") }
        defer { close(fd) }
        let micros = max(1000, Int(timeout.components.seconds) * 1_000_000 + Int(timeout.components.attoseconds / 1_000_000_000_000))
        var limit = timeval(tv_sec: micros / 1_000_000, tv_usec: micros % 1_000_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            throw failure(code == EINPROGRESS || code == EAGAIN ? .timeout : .unreachable,
                          "connect failed: \(String(cString: strerror(code)))")
        }

        var head = "\(request.method) \(target) HTTP/1.1\r\nHost: \(server)\r\nConnection: close\r\n"
        for header in request.headers { head += "\(header.name): \(header.value)\r\n" }
        head += "Content-Length: \(request.body.count)\r\n\r\n"
        let bytes = Array(head.utf8) + request.body
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw failure(errno == EAGAIN ? .timeout : .unreachable, "send failed: errno \(errno)") }
            sent += count
        }

        var parser = HTTPResponseParser(requestMethod: request.method)
        var events: [HTTPResponseParserEvent] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        var pending: [UInt8] = []
        do {
            while !parser.isComplete {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count < 0 {
                    throw failure(errno == EAGAIN || errno == EWOULDBLOCK ? .timeout : .unreachable,
                                  "no complete response within \(timeout)")
                }
                if count == 0 {
                    try parser.finish(into: &events)
                    break
                }
                pending += buffer[0..<count]
                let used = try pending.withUnsafeBufferPointer { try parser.parse($0, into: &events) }
                pending.removeFirst(used)
            }
        } catch let error as HTTPParseError {
            throw failure(.malformed, "\(error)")
        }
        var response = HTTPExchangeResponse(status: 0)
        for event in events {
            switch event {
            case .head(let responseHead):
                response.status = responseHead.status
                response.headers = responseHead.headers.map { (name: $0.name, value: $0.value) }
            case .body(let piece):
                response.body += piece
            case .end:
                break
            }
        }
        return response
    }
}
