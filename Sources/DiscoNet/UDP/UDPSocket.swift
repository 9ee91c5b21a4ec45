#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

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

    /// Binds `host:port` (port 0 for any) on the first address `host` resolves to. An empty host
    /// or `::` is every interface: `[::]`, dual-stack (it sends to and receives from IPv4
    /// addresses too), or `0.0.0.0` where IPv6 is off.
    public static func bind(host: String = "127.0.0.1", port: UInt16 = 0, group: EventLoopGroup? = nil) async throws -> UDPSocket {
        let group = try group ?? EventLoopGroup.startShared()
        let addresses = try await SocketAddress.resolveAsync(host: host, port: port)
        let loop = group.next()
        for (index, address) in addresses.enumerated() {
            do {
                let channel = try await loop.submit { () throws -> UDPChannel in try UDPChannel(address: address, loop: loop) }
                return UDPSocket(localAddress: channel.localAddress, channel: channel)
            } catch where SocketAddress.fallsBackToIPv4(from: address, after: error, remaining: addresses[(index + 1)...]) {
                continue
            }
        }
        throw AddressResolutionError(host: host, reason: "no address")
    }

    /// A UDP socket connected to `peer`, on an ephemeral port of the peer's family: only the
    /// peer's datagrams arrive, and an ICMP "port unreachable" for an earlier send fails the next
    /// ``receive(maxBytes:)`` with ``NetworkError/Code/connectRefused``.
    public static func connected(to peer: SocketAddress, group: EventLoopGroup? = nil) async throws -> UDPSocket {
        let group = try group ?? EventLoopGroup.startShared()
        let loop = group.next()
        let channel = try await loop.submit { () throws -> UDPChannel in try UDPChannel(connectingTo: peer, loop: loop) }
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
        guard let datagram = try await receive(maxBytes: maxBytes, timeout: nil) else {
            throw NetworkError(.ioFailed, peer: localAddress.description, detail: "a receive without a timeout ended without a datagram")
        }
        return datagram
    }

    /// Waits for the next datagram for at most `timeout`; nil when none came. The time is kept
    /// by the event loop, which hands out a datagram that arrived in time before it gives up, so
    /// a busy task pool cannot cut the wait short. Cancelling the waiting task closes the socket.
    public func receive(maxBytes: Int = 65_536, timeout: Duration?) async throws -> Datagram? {
        let channel = self.channel
        let datagrams = try await channel.loop.run { channel.receive(maxBytes: maxBytes, maxCount: 1, timeout: timeout, $0) } onCancel: {
            channel.close()
        }
        return datagrams.first
    }

    /// Waits for the next datagram and returns it with those already queued behind it, at most
    /// `maxCount` (at least one), in the order they arrived: one hand-over from the event loop
    /// for the lot, where a receive per datagram costs one each. Datagrams larger than
    /// `maxBytes` are truncated. Cancelling the waiting task closes the socket.
    public func receive(maxBytes: Int = 65_536, upTo maxCount: Int) async throws -> [Datagram] {
        let channel = self.channel
        return try await channel.loop.run { channel.receive(maxBytes: maxBytes, maxCount: max(1, maxCount), timeout: nil, $0) } onCancel: {
            channel.close()
        }
    }

    /// Closes the socket; pending receives fail.
    public func close() {
        let channel = self.channel
        channel.loop.execute { channel.close() }
    }
}

/// Loop-side half of ``UDPSocket``.
final class UDPChannel: EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: mutable state (the receive buffer too) is touched only on `loop`'s
    // thread (init via `loop.submit`, everything else via `loop.execute` or readiness callbacks);
    // deinit frees the buffer when no other reference, so no other thread, remains.
    let loop: EventLoop
    let localAddress: SocketAddress
    private let socket: Socket
    /// The peer of a connected socket.
    private let peer: SocketAddress?
    /// An error (an ICMP "port unreachable") that reached a connected socket while nobody was
    /// receiving: the next receive reports it.
    private var parkedError: Int32?
    private struct Receiver {
        let id: UInt64
        let maxBytes: Int
        let maxCount: Int
        let continuation: CheckedContinuation<[Datagram], any Error>
        let timer: TimerID?
    }
    private var receivers: [Receiver] = []
    private var nextReceiverID: UInt64 = 0
    /// The one buffer every receive reads into, allocated at the first receive (uninitialized)
    /// and grown only for a larger `maxBytes`: a datagram costs no 64 KiB allocation and
    /// zeroing, and only its received bytes are copied out, so a caller's bytes are never
    /// overwritten by a later datagram and hold no more memory than they need.
    private var receiveBuffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var sends: [(bytes: [UInt8], to: SocketAddress, continuation: CheckedContinuation<Void, any Error>)] = []
    private var interest: UInt32 = 0
    private var closed = false

    init(address: SocketAddress, loop: EventLoop) throws {
        let (socket, localAddress) = try Socket.bound(tcp: false, to: address)
        self.localAddress = localAddress
        self.socket = socket
        self.loop = loop
        peer = nil
        do {
            try loop.register(socket.fd, self, events: 0)
        } catch {
            socket.close()
            throw error
        }
    }

    init(connectingTo peer: SocketAddress, loop: EventLoop) throws {
        let socket = try Socket.udp(for: peer)
        do {
            _ = try socket.connect(to: peer)  // a UDP connect only records the peer: it never waits
            localAddress = try socket.localAddress()
        } catch {
            socket.close()
            throw error
        }
        self.socket = socket
        self.loop = loop
        self.peer = peer
        do {
            try loop.register(socket.fd, self, events: 0)
        } catch {
            socket.close()
            throw error
        }
    }

    deinit {
        receiveBuffer.deallocate()
    }

    private func closedError() -> NetworkError {
        NetworkError(.connectionClosed, peer: localAddress.description, detail: "UDP socket closed")
    }

    func send(_ bytes: [UInt8], to address: SocketAddress, _ continuation: CheckedContinuation<Void, any Error>) {
        guard !closed else { continuation.resume(throwing: closedError()); return }
        // A dual-stack socket (`[::]`) takes an IPv4 address as it is: Linux sends it over IPv4.
        sends.append((bytes, address, continuation))
        flushSends()
    }

    func receive(maxBytes: Int, maxCount: Int, timeout: Duration?, _ continuation: CheckedContinuation<[Datagram], any Error>) {
        guard !closed else { continuation.resume(throwing: closedError()); return }
        if let code = parkedError {
            parkedError = nil
            continuation.resume(throwing: receiveError(SystemError(function: "recvfrom", errno: code)))
            return
        }
        nextReceiverID += 1
        let id = nextReceiverID
        let timer = timeout.map { timeout in loop.scheduleTimer(after: timeout) { [weak self] in self?.receiveTimedOut(id) } }
        receivers.append(Receiver(id: id, maxBytes: maxBytes, maxCount: maxCount, continuation: continuation, timer: timer))
        drainReceives()
    }

    /// A receive's time is up: a datagram already queued still goes to it; else it gets none.
    private func receiveTimedOut(_ id: UInt64) {
        drainReceives()
        guard let index = receivers.firstIndex(where: { $0.id == id }) else { return }
        receivers.remove(at: index).continuation.resume(returning: [])
        updateInterest()
    }

    func handleReadiness(_ events: UInt32) {
        // An asynchronous socket error (reported even without interest) is cleared so it cannot
        // spin; a connected socket keeps it for its next receive, and a waiting receive reads it.
        if events & LoopEvents.error != 0, peer == nil || receivers.isEmpty {
            let code = (try? socket.pendingError()) ?? 0
            if peer != nil, code != 0 { parkedError = code }
        }
        if !sends.isEmpty { flushSends() }
        if !receivers.isEmpty { drainReceives() }
    }

    /// A failed receive as the caller sees it: refused for a connected socket's ICMP "port
    /// unreachable", an I/O failure otherwise.
    private func receiveError(_ error: SystemError) -> NetworkError {
        if let peer, error.errno == ECONNREFUSED {
            return NetworkError(.connectRefused, peer: peer.description, detail: "nothing listens on that UDP port")
        }
        return NetworkError(.ioFailed, peer: localAddress.description, detail: error.description)
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
        while let receiver = receivers.first {
            let buffer = receiveSpace(maxBytes: receiver.maxBytes)
            var datagrams: [Datagram] = []
            var failure: SystemError?
            while datagrams.count < receiver.maxCount {
                let result = Result { () throws(SystemError) -> (Int, SocketAddress)? in try socket.receiveFrom(buffer) }
                guard case .success(let (count, sender)?) = result else {
                    if case .failure(let error) = result { failure = error }
                    break
                }
                let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[..<min(count, buffer.count)]))
                datagrams.append(Datagram(bytes: bytes, sender: sender))
            }
            if datagrams.isEmpty, failure == nil {
                updateInterest()
                return
            }
            receivers.removeFirst()
            if let timer = receiver.timer { loop.cancelTimer(timer) }
            if datagrams.isEmpty, let failure {
                // ICMP errors from earlier sends surface here (e.g. ECONNREFUSED); report and go on.
                receiver.continuation.resume(throwing: receiveError(failure))
                continue
            }
            // An error behind datagrams already read waits for the next receive (a connected
            // socket's "port unreachable"); an unconnected socket's is of no one's concern.
            if let failure, peer != nil { parkedError = failure.errno }
            receiver.continuation.resume(returning: datagrams)
        }
        updateInterest()
    }

    /// The first `maxBytes` bytes of `receiveBuffer`, grown (not zeroed) when it is smaller.
    private func receiveSpace(maxBytes: Int) -> UnsafeMutableRawBufferPointer {
        let count = max(0, maxBytes)
        if receiveBuffer.count < count {
            receiveBuffer.deallocate()
            receiveBuffer = .allocate(byteCount: count, alignment: 1)
        }
        return UnsafeMutableRawBufferPointer(rebasing: receiveBuffer[..<count])
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
        for receiver in receivers {
            if let timer = receiver.timer { loop.cancelTimer(timer) }
            receiver.continuation.resume(throwing: error)
        }
        for send in sends { send.continuation.resume(throwing: error) }
        receivers.removeAll()
        sends.removeAll()
    }
}
