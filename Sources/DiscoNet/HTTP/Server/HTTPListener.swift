#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import DiscoCore
import Synchronization

// MARK: - Accepting

/// The listening socket, owned by one loop.
///
/// Running out of descriptors (`EMFILE`, `ENFILE`) must not make the listener spin on its
/// level-triggered readiness nor starve the connections already open: the listener keeps one
/// reserve descriptor (on `/dev/null`). When `accept` fails for lack of descriptors it closes
/// the reserve, accepts the pending connection, answers it `503` and closes it, then reopens the
/// reserve. Each refusal takes one connection off the queue, so readiness always makes progress.
/// A connection accepted into the descriptors the process keeps free (``DescriptorHeadroom``)
/// is answered the same way. The condition is logged at most once a second.
final class HTTPListener: EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: after init (which runs on `loop`), `socket`, `closed`, `reserve` and the
    // warning state are touched only on `loop`'s thread (`handleReadiness`, and `close` reached
    // through `loop.execute`).
    let loop: EventLoop
    let localAddress: SocketAddress
    private let socket: Socket
    private let shared: HTTPServerShared
    private var closed = false
    private var reserve: Int32 = -1
    private var lastWarning: UInt64 = 0
    private var refusedSinceWarning = 0

    /// The answer to a connection accepted without a descriptor to serve it.
    private let descriptorRefusal: [UInt8]

    init(address: SocketAddress, loop: EventLoop, shared: HTTPServerShared) throws {
        let (socket, localAddress) = try Socket.bound(tcp: true, to: address, backlog: shared.configuration.backlog)
        self.localAddress = localAddress
        self.socket = socket
        self.loop = loop
        self.shared = shared
        descriptorRefusal = HTTPResponseEncoder.error(status: 503, reason: "the server is out of file descriptors; try again later",
                                                      format: shared.configuration.errorFormat)
        do {
            try loop.register(socket.fd, self, events: LoopEvents.readable)
        } catch {
            socket.close()
            throw error
        }
        reserve = Self.openReserve()
    }

    func handleReadiness(_ events: UInt32) {
        for _ in 0..<64 {
            guard !closed else { return }
            let client: Socket?
            do {
                // Into the descriptors kept free too: such a connection is answered 503 below.
                client = try socket.accept(intoHeadroom: true)
            } catch where error.errno == EMFILE || error.errno == ENFILE {
                guard refuseOneForDescriptors(error) else {
                    pauseAccepting()
                    return
                }
                continue
            } catch {
                pauseAccepting()
                return
            }
            guard let client else { return }
            guard DescriptorHeadroom.admits(client.fd) else {
                warnOutOfDescriptors(SystemError(function: "accept4", errno: EMFILE))
                refuse(client)
                continue
            }
            accept(client)
        }
    }

    private func accept(_ client: Socket) {
        shared.accepted.add(1, ordering: .relaxed)
        try? client.setNoDelay()
        let target = shared.group.next()
        let shared = self.shared
        if target === loop {
            HTTPServerConnection.start(socket: client, loop: target, shared: shared)
        } else {
            target.execute { HTTPServerConnection.start(socket: client, loop: target, shared: shared) }
        }
    }

    // MARK: Out of descriptors

    /// Frees the reserve descriptor to accept one pending connection, refuses it with 503 and
    /// takes the reserve back. False when that was impossible (no reserve, or the system table
    /// is full), so the caller backs off instead.
    private func refuseOneForDescriptors(_ error: SystemError) -> Bool {
        warnOutOfDescriptors(error)
        guard reserve >= 0 else {
            reserve = Self.openReserve()
            return false
        }
        closeDescriptor(reserve)
        reserve = -1
        let refused = try? socket.accept(intoHeadroom: true)
        if let refused { refuse(refused) }
        reserve = Self.openReserve()
        return refused != nil
    }

    /// Answers `client` 503 and closes it.
    private func refuse(_ client: Socket) {
        _ = descriptorRefusal.withUnsafeBytes { try? client.send($0) }
        client.shutdownWrite()
        client.close()
        shared.configuration.onRefusal?(HTTPServerRefusal(status: 503))
        shared.accepted.add(1, ordering: .relaxed)
        shared.refusedForDescriptors.add(1, ordering: .relaxed)
        refusedSinceWarning += 1
    }

    private func warnOutOfDescriptors(_ error: SystemError) {
        let now = MonotonicClock.nowNanoseconds()
        guard lastWarning == 0 || now &- lastWarning >= 1_000_000_000 else { return }
        lastWarning = now
        let refused = refusedSinceWarning
        refusedSinceWarning = 0
        shared.configuration.logger?.warning(
            "HTTP server on \(localAddress) is out of file descriptors (\(error)); answering new connections 503 "
                + "until descriptors are free (\(refused) refused since the last report); raise the limit (ulimit -n) or lower the load")
    }

    private static func openReserve() -> Int32 {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    /// Another accept failure: stop polling the listener for a moment rather than spinning on a
    /// level-triggered readiness we cannot serve.
    private func pauseAccepting() {
        loop.modify(socket.fd, events: 0)
        _ = loop.scheduleTimer(after: .milliseconds(100)) { [self] in
            if !closed { loop.modify(socket.fd, events: LoopEvents.readable) }
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.deregister(socket.fd)
        socket.close()
        if reserve >= 0 {
            closeDescriptor(reserve)
            reserve = -1
        }
    }
}
