import Dispatch
import Foundation
@preconcurrency import Glibc

// MARK: - TimedRequestClient

/// Sends HTTP requests at chosen moments and records when each was sent and answered, for
/// differential tests of time-dependent behaviour (rate limiting).
///
/// Every request gets its own connection, opened before the first send, or 3 s before its own
/// send for later ones (from its own loopback source address when asked), so a request held by
/// the server never delays another. One thread sends each request at `start + offset` (sleeping to the absolute time) and polls all
/// connections in between, stamping the first byte of each response. Times are
/// `CLOCK_MONOTONIC` microseconds, the clock nginx's millisecond timer is cut from.
public enum TimedRequestClient {
    /// One request of a trace.
    public struct Request: Sendable {
        /// Milliseconds after the trace starts.
        public var offset: Int64
        /// The last byte of the 127.0.0.x address the connection comes from.
        public var source: UInt8
        /// The request, complete (`Connection: close` so the server ends the response with EOF).
        public var bytes: [UInt8]

        public init(offset: Int64, source: UInt8 = 1, bytes: [UInt8]) {
            self.offset = offset
            self.source = source
            self.bytes = bytes
        }
    }

    /// What became of one request.
    public struct Response: Sendable {
        /// Monotonic microseconds the request was due.
        public var scheduledAt: Int64 = 0
        /// Monotonic and wall-clock microseconds just before the request was written.
        public var sentAt: Int64 = 0
        public var sentAtWall: Int64 = 0
        /// Monotonic microseconds when the first byte of the response arrived (0 if none).
        public var answeredAt: Int64 = 0
        /// The status code, 0 when no complete status line arrived.
        public var status = 0
        /// Header fields, names in lower case.
        public var headers: [String: String] = [:]
        /// Why the request failed, if it did.
        public var error: String?

        /// Microseconds from sending to the first byte of the response.
        public var latency: Int64 { answeredAt > 0 ? answeredAt - sentAt : -1 }
        var received: [UInt8] = []
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sends `requests` (sorted by offset) to 127.0.0.1:`port`, the first `lead` ms from now,
    /// and returns one response each, in order; gives up on answers `patience` ms after the last send.
    public static func run(_ requests: [Request], port: UInt16, lead: Int64 = 200, patience: Int64 = 30_000) async throws -> [Response] {
        try await BlockingWork.run("disco.testkit.timed-requests") { try runBlocking(requests, port: port, lead: lead, patience: patience) }
    }

    /// How long before its request is due a connection is opened, in ms (servers close
    /// connections that send nothing for 10 s or more).
    static let connectAhead: Int64 = 3000

    /// Monotonic microseconds.
    public static func monotonicMicroseconds() -> Int64 { microseconds(CLOCK_MONOTONIC) }

    // MARK: Blocking loop

    static func runBlocking(_ requests: [Request], port: UInt16, lead: Int64, patience: Int64) throws -> [Response] {
        var sockets = Array(repeating: Int32(-1), count: requests.count)
        defer { for fd in sockets where fd >= 0 { close(fd) } }
        var responses = Array(repeating: Response(), count: requests.count)
        var open = Set(requests.indices)
        let start = monotonicMicroseconds() + lead * 1000
        // Connections are opened up to `connectAhead` before their request is due (all of them
        // at once for a trace that short): a server may close a connection idle for longer.
        var connected = 0
        func connectDue(now: Int64) throws {
            while connected < requests.count, start + requests[connected].offset * 1000 - now <= connectAhead * 1000 {
                sockets[connected] = try connect(port: port, source: requests[connected].source)
                connected += 1
            }
        }
        try connectDue(now: start - lead * 1000)
        var next = 0
        while !open.isEmpty {
            let now = monotonicMicroseconds()
            try connectDue(now: now)
            if next < requests.count {
                let due = start + requests[next].offset * 1000
                if due - now <= 2000 {
                    sleep(until: due)
                    responses[next].scheduledAt = due
                    responses[next].sentAt = monotonicMicroseconds()
                    responses[next].sentAtWall = microseconds(CLOCK_REALTIME)
                    if !sendAll(sockets[next], requests[next].bytes) {
                        responses[next].error = "send failed: errno \(errno)"
                        open.remove(next)
                    }
                    next += 1
                    continue
                }
                var wait = (due - now) / 1000 - 2
                if connected < requests.count {
                    wait = min(wait, (start + requests[connected].offset * 1000 - connectAhead * 1000 - now) / 1000)
                }
                pollOnce(sockets, open: &open, responses: &responses, sent: next, timeoutMilliseconds: Int32(max(0, wait)))
            } else {
                let lastSend = responses[requests.count - 1].sentAt
                if now > lastSend + patience * 1000 {
                    for index in open { responses[index].error = "no complete answer within \(patience) ms" }
                    break
                }
                pollOnce(sockets, open: &open, responses: &responses, sent: next, timeoutMilliseconds: 100)
            }
        }
        for index in responses.indices where responses[index].error == nil { parse(&responses[index]) }
        return responses
    }

    /// Waits for input on sent requests' connections, stamps first bytes, reads, and closes at EOF.
    static func pollOnce(_ sockets: [Int32], open: inout Set<Int>, responses: inout [Response], sent: Int, timeoutMilliseconds: Int32) {
        let watched = open.filter { $0 < sent }.sorted()
        var fds = watched.map { pollfd(fd: sockets[$0], events: Int16(POLLIN), revents: 0) }
        let ready = poll(&fds, nfds_t(fds.count), max(0, timeoutMilliseconds))
        guard ready > 0 else { return }
        let now = monotonicMicroseconds()
        var buffer = [UInt8](repeating: 0, count: 16384)
        for (position, index) in watched.enumerated() where fds[position].revents != 0 {
            let count = recv(sockets[index], &buffer, buffer.count, 0)
            if count > 0 {
                if responses[index].answeredAt == 0 { responses[index].answeredAt = now }
                responses[index].received += buffer[0..<count]
            } else {
                if count < 0 { responses[index].error = "recv failed: errno \(errno)" }
                open.remove(index)
            }
        }
    }

    static func parse(_ response: inout Response) {
        let text = String(decoding: response.received, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else {
            response.error = "incomplete response: \(text.prefix(200).debugDescription)"
            return
        }
        let lines = text[..<headEnd.lowerBound].split(separator: "\r\n")
        let statusFields = lines.first?.split(separator: " ") ?? []
        guard statusFields.count >= 2, let status = Int(statusFields[1]) else {
            response.error = "bad status line: \(String(lines.first ?? "").debugDescription)"
            return
        }
        response.status = status
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            response.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        response.received = []
    }

    // MARK: Sockets and clocks

    static func connect(port: UInt16, source: UInt8) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = (UInt32(0x7F00_0000) | UInt32(source)).bigEndian
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = port.bigEndian
        remote.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let connected = bound == 0 && withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
        guard connected else {
            let code = errno
            close(fd)
            throw Failure(description: "connecting from 127.0.0.\(source) to 127.0.0.1:\(port) failed: errno \(code)")
        }
        return fd
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    static func microseconds(_ clock: clockid_t) -> Int64 {
        var time = timespec()
        clock_gettime(clock, &time)
        return Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1000
    }

    /// Sleeps until the monotonic clock reads `deadline` microseconds.
    static func sleep(until deadline: Int64) {
        var time = timespec(tv_sec: Int(deadline / 1_000_000), tv_nsec: Int(deadline % 1_000_000) * 1000)
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &time, nil) == EINTR {}
    }
}
