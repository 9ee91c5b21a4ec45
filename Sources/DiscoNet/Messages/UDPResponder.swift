#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import CDiscoEpoll

// MARK: - A UDP server that answers every datagram on the loop

/// Settings of a ``UDPResponder``.
public struct UDPResponderConfiguration: Sendable, Hashable {
    /// Datagrams larger than this are dropped unanswered.
    public var maxRequestSize: Int
    /// The response buffer given to the responder for each datagram.
    public var maxResponseSize: Int
    /// Datagrams taken and answered per system call (`recvmmsg`, `sendmmsg`).
    public var batchSize: Int
    /// `SO_RCVBUF` to ask for (the kernel may give less); nil keeps the system default.
    public var receiveBufferBytes: Int?

    public init(maxRequestSize: Int = 4096, maxResponseSize: Int = 4096, batchSize: Int = 32, receiveBufferBytes: Int? = nil) {
        self.maxRequestSize = max(12, maxRequestSize)
        self.maxResponseSize = max(512, maxResponseSize)
        self.batchSize = min(max(1, batchSize), 1024)
        self.receiveBufferBytes = receiveBufferBytes
    }
}

/// Counters of a ``UDPResponder``.
public struct UDPResponderStatistics: Sendable, Hashable {
    /// Datagrams received.
    public var received = 0
    /// Responses handed to the kernel.
    public var sent = 0
    /// Datagrams over ``UDPResponderConfiguration/maxRequestSize``, dropped.
    public var oversize = 0
    /// Responses the kernel did not take (its send buffer was full), dropped.
    public var sendFailures = 0

    public init() {}
}

/// A bound UDP socket whose datagrams are answered by a ``MessageResponder`` on one event loop.
///
/// Each wake-up takes up to ``UDPResponderConfiguration/batchSize`` datagrams with one
/// `recvmmsg`, answers them into per-datagram buffers allocated once, and sends the answers with
/// one `sendmmsg`; it goes on until the socket is drained (at most 8 batches per turn, so other
/// work on the loop runs). A response the kernel cannot take at once is dropped, as UDP allows.
///
/// Bound to a wildcard address (`0.0.0.0`, `::`), it answers each datagram from the address the
/// datagram was sent to (`IP_PKTINFO`, `IPV6_PKTINFO`), not from whichever local address the
/// route back prefers: clients drop answers from an address they did not ask.
public final class UDPResponder: Sendable {
    /// The bound address; with port 0 it holds the kernel's choice.
    public let localAddress: SocketAddress
    private let channel: UDPResponderChannel

    private init(localAddress: SocketAddress, channel: UDPResponderChannel) {
        self.localAddress = localAddress
        self.channel = channel
    }

    deinit {
        let channel = self.channel
        channel.loop.execute { channel.close() }
    }

    /// Binds `address` and starts answering on `loop`.
    public static func start(address: SocketAddress, configuration: UDPResponderConfiguration = UDPResponderConfiguration(),
                             loop: EventLoop, responder: any MessageResponder) async throws -> UDPResponder {
        let channel = try await loop.submit { () throws -> UDPResponderChannel in
            try UDPResponderChannel(address: address, configuration: configuration, loop: loop, responder: responder)
        }
        return UDPResponder(localAddress: channel.localAddress, channel: channel)
    }

    /// The counters so far.
    public func statistics() async -> UDPResponderStatistics {
        let channel = self.channel
        return (try? await channel.loop.submit { channel.statistics }) ?? UDPResponderStatistics()
    }

    /// Stops answering and closes the socket; returns once it is closed.
    public func close() async {
        let channel = self.channel
        _ = try? await channel.loop.submit { channel.close() }
    }
}

/// Loop-side half of ``UDPResponder``: the socket and the batch buffers.
final class UDPResponderChannel: EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: created on `loop` (through `loop.submit`); its mutable state and
    // buffers are touched only there (readiness callbacks and closures submitted to `loop`).
    let loop: EventLoop
    let localAddress: SocketAddress
    private(set) var statistics = UDPResponderStatistics()
    private let socket: Socket
    private let responder: any MessageResponder
    private let configuration: UDPResponderConfiguration
    private let requests: UnsafeMutableRawPointer
    private let responses: UnsafeMutableRawPointer
    private let addresses: UnsafeMutablePointer<sockaddr_storage>
    private let receiveVectors: UnsafeMutablePointer<iovec>
    private let sendVectors: UnsafeMutablePointer<iovec>
    private let receiveHeaders: UnsafeMutablePointer<mmsghdr>
    private let sendHeaders: UnsafeMutablePointer<mmsghdr>
    /// Per datagram, room for its destination address as received and as the answer's source;
    /// nil unless the socket is bound to a wildcard address.
    private let controls: (receive: UnsafeMutableRawPointer, send: UnsafeMutableRawPointer, space: Int)?
    private var closed = false

    init(address: SocketAddress, configuration: UDPResponderConfiguration, loop: EventLoop, responder: any MessageResponder) throws {
        // Without SO_REUSEADDR: no other socket can share the port and take its datagrams.
        let (socket, localAddress) = try Socket.bound(tcp: false, to: address, reuseAddress: false)
        if let bytes = configuration.receiveBufferBytes {
            try? socket.setOption(SOL_SOCKET, SO_RCVBUF, Int32(clamping: bytes), "SO_RCVBUF")
        }
        if localAddress.addressBytes.allSatisfy({ $0 == 0 }) {
            guard disco_enable_pktinfo(socket.fd, localAddress.isIPv6 ? 1 : 0) == 0 else {
                let code = errno
                socket.close()
                throw SystemError(function: "setsockopt(PKTINFO)", errno: code)
            }
            let space = disco_pktinfo_space()
            controls = (.allocate(byteCount: configuration.batchSize * space, alignment: 16),
                        .allocate(byteCount: configuration.batchSize * space, alignment: 16), space)
        } else {
            controls = nil
        }
        self.socket = socket
        self.localAddress = localAddress
        self.loop = loop
        self.responder = responder
        self.configuration = configuration
        let batch = configuration.batchSize
        requests = .allocate(byteCount: batch * configuration.maxRequestSize, alignment: 16)
        responses = .allocate(byteCount: batch * configuration.maxResponseSize, alignment: 16)
        addresses = .allocate(capacity: batch)
        addresses.initialize(repeating: sockaddr_storage(), count: batch)
        receiveVectors = .allocate(capacity: batch)
        sendVectors = .allocate(capacity: batch)
        receiveHeaders = .allocate(capacity: batch)
        sendHeaders = .allocate(capacity: batch)
        for index in 0..<batch {
            receiveVectors[index] = iovec(iov_base: requests + index * configuration.maxRequestSize, iov_len: configuration.maxRequestSize)
            sendVectors[index] = iovec()
            receiveHeaders[index] = mmsghdr()
            sendHeaders[index] = mmsghdr()
        }
        do {
            try loop.register(socket.fd, self, events: LoopEvents.readable)
        } catch {
            socket.close()
            throw error
        }
    }

    deinit {
        let batch = configuration.batchSize
        requests.deallocate()
        responses.deallocate()
        addresses.deinitialize(count: batch)
        addresses.deallocate()
        receiveVectors.deallocate()
        sendVectors.deallocate()
        receiveHeaders.deallocate()
        sendHeaders.deallocate()
        if let controls {
            controls.receive.deallocate()
            controls.send.deallocate()
        }
    }

    func handleReadiness(_ events: UInt32) {
        // An asynchronous error is reported even without interest; reading SO_ERROR clears it.
        if events & LoopEvents.error != 0 { _ = try? socket.pendingError() }
        let batch = configuration.batchSize
        for _ in 0..<8 {
            guard !closed else { return }
            for index in 0..<batch {
                receiveHeaders[index].msg_hdr = msghdr(
                    msg_name: UnsafeMutableRawPointer(addresses + index), msg_namelen: socklen_t(MemoryLayout<sockaddr_storage>.size),
                    msg_iov: receiveVectors + index, msg_iovlen: 1, msg_control: controls.map { $0.receive + index * $0.space },
                    msg_controllen: controls?.space ?? 0, msg_flags: 0)
                receiveHeaders[index].msg_len = 0
            }
            let received = recvmmsg(socket.fd, receiveHeaders, UInt32(batch), Int32(MSG_DONTWAIT), nil)
            guard received > 0 else { return }  // drained (EAGAIN), or an error to retry on the next wake
            answer(Int(received))
            if Int(received) < batch { return }
        }
    }

    private func answer(_ count: Int) {
        var ready = 0
        for index in 0..<count {
            statistics.received += 1
            let header = receiveHeaders[index]
            guard header.msg_hdr.msg_flags & Int32(MSG_TRUNC) == 0 else {
                statistics.oversize += 1
                continue
            }
            let slot = responses + ready * configuration.maxResponseSize
            let length = responder.respond(
                to: UnsafeRawBufferPointer(start: requests + index * configuration.maxRequestSize, count: Int(header.msg_len)),
                over: .datagram, into: UnsafeMutableRawBufferPointer(start: slot, count: configuration.maxResponseSize))
            guard length > 0 else { continue }
            sendVectors[ready] = iovec(iov_base: slot, iov_len: min(length, configuration.maxResponseSize))
            var control: UnsafeMutableRawPointer?
            var controlLength = 0
            if let controls {
                control = controls.send + ready * controls.space
                controlLength = disco_reply_source(&receiveHeaders[index].msg_hdr, control, controls.space)
            }
            sendHeaders[ready].msg_hdr = msghdr(
                msg_name: UnsafeMutableRawPointer(addresses + index), msg_namelen: header.msg_hdr.msg_namelen,
                msg_iov: sendVectors + ready, msg_iovlen: 1, msg_control: controlLength > 0 ? control : nil,
                msg_controllen: controlLength, msg_flags: 0)
            sendHeaders[ready].msg_len = 0
            ready += 1
        }
        var next = 0
        while next < ready {
            let sent = sendmmsg(socket.fd, sendHeaders + next, UInt32(ready - next), Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            if sent > 0 {
                statistics.sent += Int(sent)
                next += Int(sent)
                continue
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK || code == ENOBUFS {
                statistics.sendFailures += ready - next
                return
            }
            // This one datagram cannot be sent (its address, for one): skip it, send the rest.
            statistics.sendFailures += 1
            next += 1
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.deregister(socket.fd)
        socket.close()
    }
}
