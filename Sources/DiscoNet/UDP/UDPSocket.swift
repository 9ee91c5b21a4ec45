// MARK: - UDP datagrams

/// A datagram received on a ``UDPSocket``.
public struct Datagram: Sendable, Hashable {
    public var bytes: [UInt8]
    public var sender: SocketAddress
}

/// A bound UDP socket with async send and receive, driven by an ``EventLoop``.
public final class UDPSocket: Sendable {
    /// The bound address; with port 0 it holds the kernel's choice.
    public let localAddress: SocketAddress
    private let channel: UDPChannel

    private init(localAddress: SocketAddress, channel: UDPChannel) {
        self.localAddress = localAddress
        self.channel = channel
    }

    deinit {
        let channel = self.channel
        channel.loop.execute { channel.close() }
    }

    /// Binds `host:port` (port 0 for any).
    public static func bind(host: String = "127.0.0.1", port: UInt16 = 0, group: EventLoopGroup = .shared) async throws -> UDPSocket {
        let addresses = try await SocketAddress.resolveAsync(host: host, port: port)
        guard let address = addresses.first else { throw AddressResolutionError(host: host, reason: "no address") }
        let loop = group.next()
        let channel = try await loop.submit { () throws -> UDPChannel in try UDPChannel(address: address, loop: loop) }
        return UDPSocket(localAddress: channel.localAddress, channel: channel)
    }

    /// Sends one datagram to `address`.
    public func send(_ bytes: [UInt8], to address: SocketAddress) async throws {
        let channel = self.channel
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            channel.loop.execute { channel.send(bytes, to: address, continuation) }
        }
    }

    /// Waits for the next datagram. Datagrams larger than `maxBytes` are truncated.
    /// Cancelling the waiting task closes the socket.
    public func receive(maxBytes: Int = 65_536) async throws -> Datagram {
        let channel = self.channel
        return try await channel.loop.run { channel.receive(maxBytes: maxBytes, $0) } onCancel: { channel.close() }
    }

    /// Closes the socket; pending receives fail.
    public func close() {
        let channel = self.channel
        channel.loop.execute { channel.close() }
    }
}

/// Loop-side half of ``UDPSocket``.
final class UDPChannel: EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: mutable state is touched only on `loop`'s thread (init via
    // `loop.submit`, everything else via `loop.execute` or readiness callbacks).
    let loop: EventLoop
    let localAddress: SocketAddress
    private let socket: Socket
    private var receivers: [(maxBytes: Int, continuation: CheckedContinuation<Datagram, any Error>)] = []
    private var sends: [(bytes: [UInt8], to: SocketAddress, continuation: CheckedContinuation<Void, any Error>)] = []
    private var interest: UInt32 = 0
    private var closed = false

    init(address: SocketAddress, loop: EventLoop) throws {
        let (socket, localAddress) = try Socket.bound(tcp: false, to: address)
        self.localAddress = localAddress
        self.socket = socket
        self.loop = loop
        do {
            try loop.register(socket.fd, self, events: 0)
        } catch {
            socket.close()
            throw error
        }
    }

    private func closedError() -> NetworkError {
        NetworkError(.connectionClosed, peer: localAddress.description, detail: "UDP socket closed")
    }

    func send(_ bytes: [UInt8], to address: SocketAddress, _ continuation: CheckedContinuation<Void, any Error>) {
        guard !closed else { continuation.resume(throwing: closedError()); return }
        sends.append((bytes, address, continuation))
        flushSends()
    }

    func receive(maxBytes: Int, _ continuation: CheckedContinuation<Datagram, any Error>) {
        guard !closed else { continuation.resume(throwing: closedError()); return }
        receivers.append((maxBytes, continuation))
        drainReceives()
    }

    func handleReadiness(_ events: UInt32) {
        // Clear an asynchronous socket error (reported even without interest) so it cannot spin.
        if events & LoopEvents.error != 0 { _ = try? socket.pendingError() }
        if !sends.isEmpty { flushSends() }
        if !receivers.isEmpty { drainReceives() }
    }

    private func flushSends() {
        while let (bytes, address, continuation) = sends.first {
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) -> Int? in try socket.sendTo(raw, address: address) }
            }
            switch result {
            case .success(nil):
                updateInterest()
                return
            case .success:
                sends.removeFirst()
                continuation.resume()
            case .failure(let error):
                sends.removeFirst()
                continuation.resume(throwing: NetworkError(.ioFailed, peer: address.description, detail: error.description))
            }
        }
        updateInterest()
    }

    private func drainReceives() {
        while let (maxBytes, continuation) = receivers.first {
            var bytes = [UInt8](repeating: 0, count: maxBytes)
            let result = bytes.withUnsafeMutableBytes { raw in
                Result { () throws(SystemError) -> (Int, SocketAddress)? in try socket.receiveFrom(raw) }
            }
            switch result {
            case .success(nil):
                updateInterest()
                return
            case .success(let (count, sender)?):
                receivers.removeFirst()
                bytes.removeSubrange(count...)
                continuation.resume(returning: Datagram(bytes: bytes, sender: sender))
            case .failure(let error):
                // ICMP errors from earlier sends surface here (e.g. ECONNREFUSED); report and go on.
                receivers.removeFirst()
                continuation.resume(throwing: NetworkError(.ioFailed, peer: localAddress.description, detail: error.description))
            }
        }
        updateInterest()
    }

    private func updateInterest() {
        guard !closed else { return }
        var wanted: UInt32 = 0
        if !receivers.isEmpty { wanted |= LoopEvents.readable }
        if !sends.isEmpty { wanted |= LoopEvents.writable }
        if wanted != interest {
            interest = wanted
            loop.modify(socket.fd, events: wanted)
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.deregister(socket.fd)
        socket.close()
        let error = closedError()
        for receiver in receivers { receiver.continuation.resume(throwing: error) }
        for send in sends { send.continuation.resume(throwing: error) }
        receivers.removeAll()
        sends.removeAll()
    }
}
