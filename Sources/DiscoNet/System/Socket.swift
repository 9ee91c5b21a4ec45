#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import CDiscoEpoll
#if DEBUG
import Synchronization
#endif

// MARK: - Non-blocking sockets

/// A non-blocking, close-on-exec socket descriptor with thin, throwing wrappers around the calls we
/// use. It does not own the descriptor: whoever created it calls ``close()`` exactly once.
struct Socket: Sendable, Hashable {
    let fd: Int32
    #if DEBUG
    /// Which opening of `fd` this is (see ``DescriptorLedger``).
    let opening: UInt64
    #endif

    init(fd: Int32) {
        self.fd = fd
        #if DEBUG
        opening = DescriptorLedger.opened(fd)
        #endif
    }

    // MARK: Creation

    /// Creates a non-blocking TCP socket for `address`'s family.
    static func tcp(for address: SocketAddress) throws(SystemError) -> Socket {
        _ = ignoreSIGPIPEOnce
        return try make(family: address.isIPv6 ? AF_INET6 : AF_INET, type: Int32(SOCK_STREAM.rawValue))
    }

    /// Creates a non-blocking UDP socket for `address`'s family.
    static func udp(for address: SocketAddress) throws(SystemError) -> Socket {
        try make(family: address.isIPv6 ? AF_INET6 : AF_INET, type: Int32(SOCK_DGRAM.rawValue))
    }

    /// A socket for `address` with `SO_REUSEADDR` (unless `reuseAddress` is false), bound,
    /// listening when `backlog` is given (TCP), and the local address it got (the port the kernel
    /// chose for port 0). The socket is closed again when any step fails.
    ///
    /// On a UDP socket `SO_REUSEADDR` lets other sockets that set it bind the same port (even one
    /// the kernel picks for port 0), and datagrams then go to one of them: a UDP server that must
    /// own its port binds without it.
    static func bound(tcp: Bool, to address: SocketAddress, backlog: Int32? = nil,
                      reuseAddress: Bool = true) throws(SystemError) -> (Socket, SocketAddress) {
        let socket = tcp ? try Socket.tcp(for: address) : try Socket.udp(for: address)
        do {
            if reuseAddress { try socket.setReuseAddress() }
            // The IPv6 wildcard takes IPv4 as well, whatever net.ipv6.bindv6only says: one
            // listener on `[::]` (or `:PORT`) serves IPv6, IPv4 and dual-stack networks.
            if address.isIPv6, address.isUnspecified { try socket.setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0, "IPV6_V6ONLY") }
            try socket.bind(to: address)
            if let backlog { try socket.listen(backlog: backlog) }
            return (socket, try socket.localAddress())
        } catch {
            socket.close()
            throw error
        }
    }

    private static func make(family: Int32, type: Int32) throws(SystemError) -> Socket {
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = try retryingEINTR("socket") { Glibc.socket(family, type | flags, 0) }
        return Socket(fd: try DescriptorHeadroom.keep(fd, from: "socket"))
    }

    // MARK: Options

    func setOption(_ level: Int32, _ name: Int32, _ value: Int32, _ label: String) throws(SystemError) {
        var value = value
        _ = try retryingEINTR("setsockopt(\(label))") {
            setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    func setReuseAddress() throws(SystemError) { try setOption(SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR") }
    func setNoDelay() throws(SystemError) { try setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1, "TCP_NODELAY") }

    /// `SO_LINGER` with a zero timeout: the next ``close()`` resets the connection (RST) instead
    /// of ending it in order (FIN), dropping whatever is still unsent.
    func setResetOnClose() {
        var value = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
    }

    /// The pending asynchronous error (`SO_ERROR`), used to learn how a non-blocking connect ended.
    func pendingError() throws(SystemError) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try retryingEINTR("getsockopt(SO_ERROR)") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) }
        return value
    }

    // MARK: Addresses

    func bind(to address: SocketAddress) throws(SystemError) {
        _ = try address.withSockAddr { (pointer, length) throws(SystemError) in
            try retryingEINTR("bind(\(address))") { Glibc.bind(fd, pointer, length) }
        }
    }

    /// The local address; after binding port 0 this reports the port the kernel chose.
    func localAddress() throws(SystemError) -> SocketAddress {
        try address("getsockname") { getsockname($0, $1, $2) }
    }

    /// The peer's address (`getpeername`).
    func remoteAddress() throws(SystemError) -> SocketAddress {
        try address("getpeername") { getpeername($0, $1, $2) }
    }

    private func address(_ function: String,
                         _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { pointer throws(SystemError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { p throws(SystemError) in
                try retryingEINTR(function) { call(fd, p, &length) }
            }
        }
        guard let address = SocketAddress(storage: storage) else {
            throw SystemError(function: function, errno: EAFNOSUPPORT)
        }
        return address
    }

    // MARK: TCP

    func listen(backlog: Int32) throws(SystemError) {
        _ = try retryingEINTR("listen") { Glibc.listen(fd, backlog) }
    }

    /// Accepts one connection, or returns nil when none is pending. The new socket is
    /// non-blocking and close-on-exec from the start (`accept4`). A connection that would take
    /// one of the descriptors kept free (see ``DescriptorHeadroom``) is closed and the call
    /// fails with `EMFILE`, unless `intoHeadroom` (a connection answered and closed at once).
    func accept(intoHeadroom: Bool = false) throws(SystemError) -> Socket? {
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard let client = try nonBlocking("accept4", { disco_accept4(fd, flags) }) else { return nil }
        return Socket(fd: intoHeadroom ? client : try DescriptorHeadroom.keep(client, from: "accept4"))
    }

    /// Starts a connect. Returns true when connected at once, false when in progress
    /// (wait for writability, then check ``pendingError()``).
    func connect(to address: SocketAddress) throws(SystemError) -> Bool {
        do {
            _ = try address.withSockAddr { (pointer, length) throws(SystemError) in
                try retryingEINTR("connect(\(address))") { Glibc.connect(fd, pointer, length) }
            }
            return true
        } catch where error.errno == EINPROGRESS {
            return false
        }
    }

    /// Reads into `buffer`. Returns nil when no data is available, 0 at end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        try nonBlocking("recv") { disco_receive(fd, buffer.baseAddress, buffer.count) }
    }

    /// Sends bytes without raising SIGPIPE. Returns nil when the send buffer is full.
    func send(_ buffer: UnsafeRawBufferPointer) throws(SystemError) -> Int? {
        try nonBlocking("send") { disco_send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    /// True when the peer has closed or reset the connection, or sent bytes nobody has read
    /// (checked without consuming them): asked of an idle connection, where unasked-for bytes
    /// (a body after a `HEAD` response, more than a `Content-Length`) mean it is out of step.
    func peerHasClosed() -> Bool {
        var byte: UInt8 = 0
        let result = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if result >= 0 { return true }
        let code = Glibc.errno
        return !(code == EAGAIN || code == EWOULDBLOCK || code == EINTR)
    }

    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    // MARK: UDP

    func sendTo(_ buffer: UnsafeRawBufferPointer, address: SocketAddress) throws(SystemError) -> Int? {
        try address.withSockAddr { (pointer, length) throws(SystemError) in
            try nonBlocking("sendto(\(address))") {
                sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), pointer, length)
            }
        }
    }

    func receiveFrom(_ buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> (Int, SocketAddress)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = try withUnsafeMutablePointer(to: &storage) { pointer throws(SystemError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { p throws(SystemError) in
                try nonBlocking("recvfrom") { recvfrom(fd, buffer.baseAddress, buffer.count, 0, p, &length) }
            }
        }
        guard let count else { return nil }
        guard let address = SocketAddress(storage: storage) else {
            throw SystemError(function: "recvfrom", errno: EAFNOSUPPORT)
        }
        return (count, address)
    }

    func close() {
        #if DEBUG
        DescriptorLedger.closing(fd, opening: opening)
        #endif
        closeDescriptor(fd)
    }
}

#if DEBUG
// MARK: - Catching a descriptor closed twice (debug builds)

/// Debug builds record which opening of each descriptor number a ``Socket`` holds. Closing a
/// socket whose number has since been closed, or closed and opened again for another socket,
/// stops the process naming the descriptor: in a release build that second close would
/// silently take another connection's descriptor.
enum DescriptorLedger {
    private static let openings = Mutex<[Int32: UInt64]>([:])
    private static let counter = Atomic<UInt64>(0)

    static func opened(_ fd: Int32) -> UInt64 {
        let opening = counter.wrappingAdd(1, ordering: .relaxed).newValue
        openings.withLock { $0[fd] = opening }
        return opening
    }

    static func closing(_ fd: Int32, opening: UInt64) {
        let current = openings.withLock { table -> UInt64? in
            let current = table[fd]
            if current == opening { table[fd] = nil }
            return current
        }
        precondition(current == opening, "descriptor \(fd) closed twice: this socket's opening \(opening), now \(current.map(String.init) ?? "closed")")
    }
}
#endif
