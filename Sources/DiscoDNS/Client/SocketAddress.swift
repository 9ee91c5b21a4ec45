// CResolv's header brings in the socket structs; importing it makes their members visible.
import CResolv
@preconcurrency import Glibc

// MARK: - SocketAddress

/// A numeric IPv4 or IPv6 socket address, ready for `connect`.
struct SocketAddress: Sendable {
    let storage: sockaddr_storage
    let length: socklen_t
    let family: Int32

    /// Parses an IP literal (no brackets; IPv6 may carry a `%zone`); `nil` for anything else.
    init?(ip: String, port: UInt16) {
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, ip, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            var storage = sockaddr_storage()
            withUnsafeBytes(of: v4) { raw in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) }
            }
            self.storage = storage
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            family = AF_INET
            return
        }
        var v6 = sockaddr_in6()
        let parts = ip.split(separator: "%", maxSplits: 1)
        guard let hostPart = parts.first, inet_pton(AF_INET6, String(hostPart), &v6.sin6_addr) == 1 else { return nil }
        if parts.count == 2 {
            let zone = String(parts[1])
            if let index = UInt32(zone) {
                v6.sin6_scope_id = index
            } else {
                let index = if_nametoindex(zone)
                guard index != 0 else { return nil }
                v6.sin6_scope_id = index
            }
        }
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = port.bigEndian
        var storage = sockaddr_storage()
        withUnsafeBytes(of: v6) { raw in
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) }
        }
        self.storage = storage
        length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        family = AF_INET6
    }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

// MARK: - Errors from the OS

/// A failed system call, with `errno` and its text.
struct SystemCallError: Error {
    let call: String
    let errno: Int32

    var isConnectionRefused: Bool { errno == ECONNREFUSED }

    var description: String {
        let text = strerror(errno).map { String(cString: $0) } ?? "errno \(errno)"
        return "\(call) failed: \(text)"
    }
}

/// What ended a wait on a socket.
enum SocketWaitError: Error {
    case timedOut
    case system(SystemCallError)
    /// The peer closed a TCP stream after `received` of `expected` bytes.
    case closed(received: Int, expected: Int)
}

// MARK: - Blocking helpers (run on a background thread, never on the cooperative pool)

/// Milliseconds left until `deadline`, clamped for `poll`.
func millisecondsUntil(_ deadline: ContinuousClock.Instant) -> Int32 {
    let left = deadline - ContinuousClock.now
    guard left > .zero else { return 0 }
    let (seconds, attoseconds) = left.components
    let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
    return Int32(clamping: millis)
}

/// Waits for `events` on `fd` until `deadline`.
func waitFor(_ fd: Int32, events: Int16, until deadline: ContinuousClock.Instant) throws(SocketWaitError) {
    while true {
        let timeout = millisecondsUntil(deadline)
        guard timeout > 0 else { throw .timedOut }
        var entry = pollfd(fd: fd, events: events, revents: 0)
        let ready = poll(&entry, 1, timeout)
        if ready > 0 { return }
        if ready == 0 { continue }
        if errno == EINTR { continue }
        throw .system(SystemCallError(call: "poll", errno: errno))
    }
}

/// Opens a non-blocking, close-on-exec socket.
func openSocket(family: Int32, type: Int32) throws(SystemCallError) -> Int32 {
    let fd = socket(family, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SystemCallError(call: "socket", errno: errno) }
    return fd
}

/// Connects a non-blocking socket, waiting for a TCP handshake until `deadline`.
func connectSocket(_ fd: Int32, to address: SocketAddress, until deadline: ContinuousClock.Instant) throws(SocketWaitError) {
    let result = address.withSockAddr { connect(fd, $0, $1) }
    if result == 0 { return }
    guard errno == EINPROGRESS else { throw .system(SystemCallError(call: "connect", errno: errno)) }
    try waitFor(fd, events: Int16(POLLOUT), until: deadline)
    var error: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else {
        throw .system(SystemCallError(call: "getsockopt(SO_ERROR)", errno: errno))
    }
    guard error == 0 else { throw .system(SystemCallError(call: "connect", errno: error)) }
}

/// Writes all of `bytes` to a stream socket before `deadline`.
func writeAll(_ fd: Int32, _ bytes: [UInt8], until deadline: ContinuousClock.Instant) throws(SocketWaitError) {
    var sent = 0
    while sent < bytes.count {
        let count = bytes[sent...].withUnsafeBytes { raw in
            send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
        }
        if count > 0 {
            sent += count
        } else if count < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
            try waitFor(fd, events: Int16(POLLOUT), until: deadline)
        } else {
            throw .system(SystemCallError(call: "send", errno: errno))
        }
    }
}

/// Reads exactly `count` bytes from a stream socket before `deadline`.
func readExactly(_ fd: Int32, _ count: Int, until deadline: ContinuousClock.Instant) throws(SocketWaitError) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: count)
    var received = 0
    while received < count {
        let got = buffer[received...].withUnsafeMutableBytes { raw in
            recv(fd, raw.baseAddress, raw.count, 0)
        }
        if got > 0 {
            received += got
        } else if got == 0 {
            throw .closed(received: received, expected: count)
        } else if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
            try waitFor(fd, events: Int16(POLLIN), until: deadline)
        } else {
            throw .system(SystemCallError(call: "recv", errno: errno))
        }
    }
    return buffer
}
