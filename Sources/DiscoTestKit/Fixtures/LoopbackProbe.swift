import Dispatch
@preconcurrency import Glibc

// MARK: - Loopback probes

/// Minimal blocking requests that fixtures use to see whether a server answers yet (and that the
/// Kubernetes harness uses for probes, to a pod's IPv4 or IPv6 address). Each runs on its own dispatch
/// queue so it never blocks the cooperative thread pool.
public enum LoopbackProbe {
    /// Sends a DNS query for `probe.invalid.` A to `host`:`port` over UDP; true when any
    /// response with the same ID comes back within `timeout`.
    public static func dnsAnswers(host: String = "127.0.0.1", port: UInt16, timeout: Duration = .milliseconds(250)) async -> Bool {
        await offload { dnsAnswersBlocking(host: host, port: port, timeout: timeout) }
    }

    /// `GET path` over HTTP/1.0 to `host`:`port`; the status code and body, or `nil` when the
    /// server did not answer within `timeout`.
    public static func httpGet(host: String = "127.0.0.1", port: UInt16, path: String,
                               timeout: Duration = .seconds(1)) async -> (status: Int, body: String)? {
        await offload { httpGetBlocking(host: host, port: port, path: path, timeout: timeout) }
    }

    // MARK: Blocking parts

    private static func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await BlockingWork.run("disco.testkit.probe", work)
    }

    /// A socket connected to `host` (an IPv4 or IPv6 literal, brackets allowed) and `port`.
    private static func connected(type: Int32, host: String, port: UInt16, timeout: Duration) -> Int32? {
        var literal = host
        if literal.hasPrefix("["), literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        let ipv6 = literal.contains(":")
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        let micros = Int(timeout.components.seconds) * 1_000_000 + Int(timeout.components.attoseconds / 1_000_000_000_000)
        var limit = timeval(tv_sec: micros / 1_000_000, tv_usec: micros % 1_000_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let result: Int32?
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            result = inet_pton(AF_INET6, literal, &address.sin6_addr) == 1 ? connect(fd, to: &address) : nil
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            result = inet_pton(AF_INET, literal, &address.sin_addr) == 1 ? connect(fd, to: &address) : nil
        }
        guard result == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// `connect` to a `sockaddr_in` or `sockaddr_in6`.
    private static func connect<Address>(_ fd: Int32, to address: inout Address) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
    }

    private static func dnsAnswersBlocking(host: String, port: UInt16, timeout: Duration) -> Bool {
        guard let fd = connected(type: Int32(SOCK_DGRAM.rawValue), host: host, port: port, timeout: timeout) else { return false }
        defer { close(fd) }
        // ID 0xD15C, RD, one question: probe.invalid. A IN
        var query: [UInt8] = [0xD1, 0x5C, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in ["probe", "invalid"] {
            query.append(UInt8(label.utf8.count))
            query += Array(label.utf8)
        }
        query += [0, 0, 1, 0, 1]
        guard send(fd, query, query.count, 0) == query.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count >= 12 && buffer[0] == 0xD1 && buffer[1] == 0x5C
    }

    private static func httpGetBlocking(host: String, port: UInt16, path: String, timeout: Duration) -> (status: Int, body: String)? {
        guard let fd = connected(type: Int32(SOCK_STREAM.rawValue), host: host, port: port, timeout: timeout) else { return nil }
        defer { close(fd) }
        let authority = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(authority)\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 {
                response += buffer[0..<count]
            } else if count == 0 {
                break
            } else {
                return nil
            }
        }
        let text = String(decoding: response, as: UTF8.self)
        let parts = text.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false)
        guard let head = parts.first, let statusLine = head.split(separator: "\r\n").first else { return nil }
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, let status = Int(fields[1]) else { return nil }
        return (status, parts.count > 1 ? String(parts[1]) : "")
    }
}
