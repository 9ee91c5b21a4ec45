import DiscoNet
import Synchronization

// MARK: - A port mapping on loopback

/// A relay on one loopback port number that passes TCP connections and UDP datagrams on to
/// another port, as a container port mapping (`-p 14002:4002/tcp -p 14002:4002/udp`) or a NAT
/// does: a node listening on the target port and advertising the relay's port is reached only
/// through the relay.
///
/// TCP: each accepted connection is joined to a new connection to the target, bytes pumped
/// both ways until either side closes, late by the lag ``setLag(_:)`` sets (none at first): a
/// node behind it then hears of its leader's commits late, as on a slow link. UDP: each sender gets its own socket to the target (a
/// session), and what the target sends back to that socket goes back to the sender from the
/// relay's port, so a reply to a datagram's source address reaches the original sender.
public final class PortRelay: Sendable {
    /// The relay's port number on 127.0.0.1 (TCP and UDP): advertise `127.0.0.1:port`.
    public let port: UInt16
    /// Where everything is passed on to: a numeric loopback address and a port.
    public let targetHost: String
    public let target: UInt16
    private let listener: TCPListener
    private let socket: UDPSocket
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let stopped = Atomic<Bool>(false)
    private let connections = Atomic<Int>(0)
    private let datagrams = Atomic<Int>(0)
    private let lagNanoseconds = Atomic<Int64>(0)

    private init(targetHost: String, target: UInt16, listener: TCPListener, socket: UDPSocket) {
        self.targetHost = targetHost
        self.target = target
        self.listener = listener
        self.socket = socket
        port = socket.localAddress.port
    }

    /// A relay on a port of 127.0.0.1 free for both TCP and UDP (``FreePort``: below the
    /// ephemeral range), to `targetHost:target`. A target on another loopback address (a node
    /// bound to 127.0.0.2) is reached only through the relay at 127.0.0.1, as a container's
    /// port is behind its mapping: nothing answers at 127.0.0.1 on the target's port.
    public static func start(to target: UInt16, on targetHost: String = "127.0.0.1") async throws -> PortRelay {
        let host = "127.0.0.1"
        var lastError: (any Error)?
        for _ in 0..<16 {
            let socket: UDPSocket
            do {
                socket = try await UDPSocket.bind(host: host, port: try FreePort.loopback())
            } catch {
                lastError = error
                continue
            }
            do {
                let listener = try await TCPListener.bind(host: host, port: socket.localAddress.port)
                let relay = PortRelay(targetHost: targetHost, target: target, listener: listener, socket: socket)
                relay.begin()
                return relay
            } catch {
                socket.close()
                lastError = error
            }
        }
        throw lastError ?? NetworkError(.ioFailed, peer: host, detail: "no port free for both TCP and UDP")
    }

    /// TCP connections accepted and passed on so far.
    public var connectionsRelayed: Int { connections.load(ordering: .relaxed) }

    /// Datagrams passed on to the target so far.
    public var datagramsRelayed: Int { datagrams.load(ordering: .relaxed) }

    /// From now on, TCP bytes (both ways) are passed on `lag` after they arrived, in order.
    /// Datagrams are never held back.
    public func setLag(_ lag: Duration) {
        let (seconds, attoseconds) = lag.components
        lagNanoseconds.store(seconds * 1_000_000_000 + attoseconds / 1_000_000_000, ordering: .relaxed)
    }

    /// Stops listening and ends every relayed connection and UDP session.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        listener.close()
        socket.close()
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }

    private func own(_ task: Task<Void, Never>) {
        tasks.withLock { $0.append(task) }
        if stopped.load(ordering: .relaxed) { task.cancel() }
    }

    private func begin() {
        own(Task { await self.acceptLoop() })
        own(Task { await self.datagramLoop() })
    }

    // MARK: TCP

    private func acceptLoop() async {
        await withDiscardingTaskGroup { group in
            while let inbound = try? await listener.accept() {
                connections.add(1, ordering: .relaxed)
                group.addTask { await self.relay(inbound) }
            }
        }
    }

    private func relay(_ inbound: TCPConnection) async {
        guard let outbound = try? await TCPConnection.connect(host: targetHost, port: target) else {
            inbound.close()
            return
        }
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { pumps in
                pumps.addTask { await self.pump(from: inbound, to: outbound) }
                pumps.addTask { await self.pump(from: outbound, to: inbound) }
            }
        } onCancel: {
            inbound.close()
            outbound.close()
        }
        inbound.close()
        outbound.close()
    }

    /// Reads `source` and writes each piece to `sink` once it is the lag old (a reader and a
    /// writer, so pieces are not held back behind each other's waits).
    private func pump(from source: TCPConnection, to sink: TCPConnection) async {
        let (pieces, arrived) = AsyncStream.makeStream(of: (ContinuousClock.Instant, [UInt8]).self)
        await withDiscardingTaskGroup { group in
            group.addTask {
                while let bytes = try? await source.read() {
                    arrived.yield((.now + .nanoseconds(self.lagNanoseconds.load(ordering: .relaxed)), bytes))
                }
                arrived.finish()
            }
            group.addTask {
                for await (due, bytes) in pieces {
                    // A link's delay, not synchronisation: nothing waits for this to pass.
                    if due > .now { try? await Task.sleep(until: due, clock: .continuous) }
                    do { try await sink.write(bytes) } catch { break }
                }
                sink.shutdownWrite()
            }
        }
    }

    // MARK: UDP

    /// Receives datagrams on the relay's port and passes each on through its sender's session.
    /// Only this loop touches `sessions`.
    private func datagramLoop() async {
        guard let destination = SocketAddress(numericHost: targetHost, port: target) else { return }
        var sessions: [SocketAddress: UDPSocket] = [:]
        while !stopped.load(ordering: .relaxed) {
            let datagram: Datagram
            do {
                datagram = try await socket.receive()
            } catch let error as NetworkError where error.code == .ioFailed {
                continue  // an ICMP error for an earlier reply: the sender went away
            } catch {
                break
            }
            let session: UDPSocket
            if let known = sessions[datagram.sender] {
                session = known
            } else {
                guard let opened = try? await UDPSocket.connected(to: destination) else { continue }
                sessions[datagram.sender] = opened
                session = opened
                let sender = datagram.sender
                own(Task { await self.replies(from: opened, to: sender) })
            }
            datagrams.add(1, ordering: .relaxed)
            try? await session.send(datagram.bytes, to: destination)
        }
        for session in sessions.values { session.close() }
    }

    /// Passes what the target sends to a session back to the session's sender.
    private func replies(from session: UDPSocket, to sender: SocketAddress) async {
        while !stopped.load(ordering: .relaxed) {
            let datagram: Datagram
            do {
                datagram = try await session.receive()
            } catch let error as NetworkError where error.code == .connectRefused || error.code == .ioFailed {
                continue  // the target's port was closed for a while (a node restarting)
            } catch {
                return
            }
            try? await socket.send(datagram.bytes, to: sender)
        }
    }
}
