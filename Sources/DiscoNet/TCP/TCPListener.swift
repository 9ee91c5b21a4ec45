// MARK: - Accepting TCP connections as async values

/// A listening TCP socket whose connections are taken with `accept()`.
public final class TCPListener: Sendable {
    /// The bound address; with port 0 it holds the kernel's choice.
    public let localAddress: SocketAddress
    private let channel: ListenerChannel

    private init(localAddress: SocketAddress, channel: ListenerChannel) {
        self.localAddress = localAddress
        self.channel = channel
    }

    /// Binds and listens on `host:port` (SO_REUSEADDR on). Accepted connections are spread over
    /// `group`'s loops and run over the transport `transport` makes (plain TCP by default; a
    /// ``TLSTransportFactory`` for TLS, whose handshake runs as the connection is first read).
    public static func bind(
        host: String = "127.0.0.1", port: UInt16 = 0, backlog: Int32 = 256, group: EventLoopGroup? = nil,
        transport: any ByteStreamTransportFactory = PlainTransportFactory()
    ) async throws -> TCPListener {
        let group = try group ?? EventLoopGroup.startShared()
        let addresses = try await SocketAddress.resolveAsync(host: host, port: port)
        var lastError: (any Error)?
        let loop = group.next()
        for address in addresses {
            do {
                let channel = try await loop.submit { () throws -> ListenerChannel in
                    try ListenerChannel(address: address, backlog: backlog, loop: loop, group: group, factory: transport)
                }
                return TCPListener(localAddress: channel.localAddress, channel: channel)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? SystemError(function: "bind", errno: 0)
    }

    /// Waits for the next connection. Throws once the listener is closed; cancelling the waiting
    /// task closes the listener.
    public func accept() async throws -> TCPConnection {
        let channel = self.channel
        return try await channel.loop.run { channel.accept($0) } onCancel: { channel.close() }
    }

    /// Stops listening; a pending `accept` fails.
    public func close() {
        let channel = self.channel
        channel.loop.execute { channel.close() }
    }
}

/// Loop-side half of ``TCPListener``.
final class ListenerChannel: EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: mutable state is touched only on `loop`'s thread (init runs there via
    // `loop.submit`; everything else via `loop.execute` or readiness callbacks).
    let loop: EventLoop
    let localAddress: SocketAddress
    private let socket: Socket
    private let group: EventLoopGroup
    private let factory: any ByteStreamTransportFactory
    private var waiters: [CheckedContinuation<TCPConnection, any Error>] = []
    private var closed = false

    init(address: SocketAddress, backlog: Int32, loop: EventLoop, group: EventLoopGroup, factory: any ByteStreamTransportFactory) throws {
        let (socket, localAddress) = try Socket.bound(tcp: true, to: address, backlog: backlog)
        self.localAddress = localAddress
        self.socket = socket
        self.loop = loop
        self.group = group
        self.factory = factory
        do {
            try loop.register(socket.fd, self, events: 0)
        } catch {
            socket.close()
            throw error
        }
    }

    func accept(_ continuation: CheckedContinuation<TCPConnection, any Error>) {
        guard !closed else {
            continuation.resume(throwing: NetworkError(.connectionClosed, peer: localAddress.description, detail: "listener closed"))
            return
        }
        waiters.append(continuation)
        drain()
    }

    func handleReadiness(_ events: UInt32) { drain() }

    private func drain() {
        while !waiters.isEmpty {
            let accepted: Socket?
            do {
                accepted = try socket.accept()
            } catch {
                let waiter = waiters.removeFirst()
                waiter.resume(throwing: NetworkError(.ioFailed, peer: localAddress.description, detail: error.description))
                continue
            }
            guard let client = accepted else { break }
            try? client.setNoDelay()
            let peer = (try? client.remoteAddress()) ?? localAddress
            let local = try? client.localAddress()
            let target = group.next()
            let tcp = TCPTransport(socket: client, loop: target, remoteAddress: peer)
            if factory is PlainTransportFactory {
                let channel = TCPChannel(transport: tcp, peer: peer.description)
                target.execute { channel.adopt() }
                waiters.removeFirst().resume(returning: TCPConnection(channel: channel, remoteAddress: peer, localAddress: local))
                continue
            }
            // A layered transport is made on the loop that will run it.
            let waiter = waiters.removeFirst()
            let factory = self.factory
            target.execute { [self] in
                do {
                    let channel = TCPChannel(transport: try factory.makeTransport(over: tcp, role: .server), peer: peer.description)
                    channel.adopt()
                    waiter.resume(returning: TCPConnection(channel: channel, remoteAddress: peer, localAddress: local))
                } catch {
                    tcp.close()
                    loop.execute { [self] in
                        waiters.insert(waiter, at: 0)
                        drain()
                    }
                }
            }
        }
        loop.modify(socket.fd, events: waiters.isEmpty ? 0 : LoopEvents.readable)
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.deregister(socket.fd)
        socket.close()
        let pending = waiters
        waiters.removeAll()
        for waiter in pending {
            waiter.resume(throwing: NetworkError(.connectionClosed, peer: localAddress.description, detail: "listener closed"))
        }
    }
}
