import DiscoCore
import DiscoNet
import Synchronization

// MARK: - UDP: receiving and sending datagrams

extension SWIM.Shell {
    /// Receives datagrams until the socket closes; each is decoded strictly and handed to the
    /// core. A datagram that does not decode is dropped, counted and logged (rate-limited).
    func receiveLoop() async {
        while !isShutDown {
            let datagrams: [Datagram]
            do {
                // Those queued come together: one hand-over from the event loop per batch, so
                // a flood costs the member its reading, not a thread switch per datagram.
                datagrams = try await socket.receive(maxBytes: SWIM.WireCodec.maxDatagramSize + 1, upTo: Self.receiveBatch)
            } catch let error as NetworkError where error.code == .ioFailed {
                // An ICMP error from an earlier send (the peer's port is closed): not ours to act on.
                configuration.logger.trace("UDP receive error", metadata: ["error": "\(error)"])
                continue
            } catch {
                if !isShutDown { configuration.logger.error("UDP socket closed", metadata: ["error": "\(error)"]) }
                return
            }
            for datagram in datagrams { received(datagram) }
        }
    }

    /// Most datagrams handed over from the event loop at once.
    static let receiveBatch = 64

    func received(_ datagram: Datagram) {
        guard !isShutDown else { return }
        let sender = PeerAddress(host: datagram.sender.host, port: datagram.sender.port)
        // Before opening and decoding, the costly part: a flood from one address is dropped
        // for the price of reading it, and everyone else's datagrams are still handled.
        guard senderBudget?.admits(sender, at: now()) ?? true else {
            rateLimited(datagram, from: sender)
            return
        }
        var bytes = datagram.bytes
        var plaintextLetThrough = false
        if let protection {
            guard case .accepted(let opened, let plaintext) = protection.incoming(bytes, purpose: .datagram, from: "\(sender)")
            else { return }
            bytes = opened
            plaintextLetThrough = plaintext
        } else if bytes.first == SWIM.GossipSealer.version {
            dropped(datagram, from: sender, reason: Self.sealedButNoKey)
            return
        }
        // Decoded before it is admitted: bytes that are no SWIM packet count as dropped, never
        // as gossip accepted without a label or in plaintext (what operators watch in upgrades).
        let packet: SWIM.Packet
        let label: String?
        do {
            let start: Int
            (label, start) = try SWIM.WireCodec.readLabel(bytes)
            packet = try SWIM.WireCodec.decodePacket(bytes, from: start)
        } catch {
            dropped(datagram, from: sender, reason: error.description)
            return
        }
        // Sealed gossip carries no label: the sealing binds it (GossipSealer).
        let sealed = datagram.bytes.first == SWIM.GossipSealer.version
        guard sealed || admits(label, from: sender, member: sender, "datagram") else { return }
        if plaintextLetThrough { protection?.countPlaintextAccepted() }
        stats.datagramsReceived += 1
        perform(core.received(packet, from: sender, now: now()))
    }

    /// What to send for `plaintext`: sealed when the member encrypts (and `verifyOutgoing` is
    /// on), as it is otherwise; nil when sealing failed (logged and counted by `protection`).
    static func sealed(_ plaintext: [UInt8], purpose: SWIM.GossipSealer.Purpose, with protection: GossipProtection?) -> [UInt8]? {
        guard let protection else { return plaintext }
        return protection.outgoing(plaintext, purpose: purpose)
    }

    static let sealedButNoKey = "sealed with a gossip key, but this member runs without gossip encryption "
        + "(give every member the same -gossip-key or keyring)"

    func dropped(_ datagram: Datagram, from sender: PeerAddress, reason: String) {
        stats.datagramsDropped += 1
        stats.lastDropReason = reason
        let (log, suppressed) = dropLog.shouldLog(at: now())
        guard log else { return }
        var metadata: Logger.Metadata = ["from": "\(sender)", "bytes": "\(datagram.bytes.count)", "reason": "\(reason)"]
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        configuration.logger.warning("dropped a datagram that is not a SWIM packet", metadata: metadata)
    }

    func rateLimited(_ datagram: Datagram, from sender: PeerAddress) {
        stats.datagramsRateLimited += 1
        let (log, suppressed) = rateLimitLog.shouldLog(at: now())
        guard log, let budget = senderBudget else { return }
        var metadata: Logger.Metadata = ["from": "\(sender)", "bytes": "\(datagram.bytes.count)",
                                         "rate": "\(budget.rate)/s", "burst": "\(budget.burst)"]
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        configuration.logger.warning("dropped datagrams from a sender beyond its rate", metadata: metadata)
    }

    /// Sends queued datagrams in order until the queue is finished. Runs off the actor, so a
    /// slow socket never holds up the protocol. Host names (members advertised by name) are
    /// resolved beside the sender, as tasks of `lookups`, and remembered for a while
    /// (``ResolvedHosts``), so a slow DNS server delays only the datagrams for that name, and
    /// the sender ends with its queue even while a lookup waits.
    static func runSender(socket: UDPSocket, outgoing: AsyncStream<Outgoing>, protection: GossipProtection?, logger: Logger,
                          lookups: OwnedTasks, resolveHost: @escaping @Sendable (String, UInt16) async throws -> [SocketAddress]) async {
        let hosts = ResolvedHosts()
        let failures = SendFailureLog(logger: logger, bound: socket.localAddress)
        for await item in outgoing {
            guard let bytes = sealed(item.bytes, purpose: .datagram, with: protection) else { continue }
            let destination = item.destination
            if let numeric = SocketAddress(numericHost: destination.host, port: destination.port) {
                await send(bytes, to: numeric, destination: destination, on: socket, failures: failures)
                continue
            }
            let route = hosts.route(bytes, to: destination, now: .now)
            switch route {
            case .send(let target), .sendAndResolve(let target):
                await send(bytes, to: target, destination: destination, on: socket, failures: failures)
            case .resolve, .none:
                break
            }
            if route == .resolve || route.isRefresh {
                lookups.spawn {
                    await resolve(destination, hosts: hosts, socket: socket, logger: logger, failures: failures, resolveHost: resolveHost)
                }
            }
        }
    }
}

// MARK: - TCP: push-pull exchanges

extension SWIM.Shell {
    /// Opens a push-pull exchange: connect, send our state, read the answer; all within `timeout`.
    /// An answer labelled with another name than `expectedLabel` fails with
    /// ``SWIM/ShellError/Code/otherCluster``.
    static func exchange(_ payload: [UInt8], with destination: PeerAddress, timeout: Duration, maxBytes: Int,
                         protection: GossipProtection?, expectedLabel: String?, group: EventLoopGroup,
                         transport: any ByteStreamTransportFactory) async -> Result<SWIM.PushPullState, SWIM.ShellError> {
        guard let request = sealed(payload, purpose: .pushPull, with: protection) else {
            return .failure(SWIM.ShellError(.pushPullFailed, "\(destination): cannot seal our state"))
        }
        do {
            let state = try await withTimeout(timeout, "push-pull with \(destination)") {
                let connection = try await FramedConnection.connect(host: destination.host, port: destination.port, timeout: timeout,
                                                                    maxPayloadBytes: maxBytes, group: group, transport: transport)
                defer { connection.close() }
                try await connection.send(Frame(type: pushPullFrameType, payload: request))
                var frames = connection.frames().makeAsyncIterator()
                guard let frame = try await frames.next() else {
                    throw SWIM.ShellError(.pushPullFailed, "\(destination) closed the connection without answering")
                }
                if frame.type == pushPullRefusedFrameType {
                    let reason = String(decoding: frame.payload.prefix(512), as: UTF8.self)
                    throw SWIM.ShellError(.pushPullRefused, "refused our state: \(reason)")
                }
                guard frame.type == pushPullFrameType else {
                    throw SWIM.ShellError(.pushPullFailed,
                                          "\(destination) answered with frame type \(frame.type), expected \(pushPullFrameType)")
                }
                let (answer, plaintext) = try openAnswer(frame.payload, from: destination, protection: protection)
                let (label, state) = try SWIM.WireCodec.decodeLabelledPushPull(answer)
                if let label, let expectedLabel, label != expectedLabel {
                    throw SWIM.ShellError(.otherCluster, "answered with a state labelled \(label.debugDescription); "
                                          + "this member's cluster is \(expectedLabel.debugDescription)")
                }
                if plaintext { protection?.countPlaintextAccepted() }
                return state
            }
            return .success(state)
        } catch let error as SWIM.ShellError {
            let code = error.code == .pushPullRefused || error.code == .otherCluster ? error.code : .pushPullFailed
            return .failure(SWIM.ShellError(code, "\(destination): \(error.detail)"))
        } catch {
            return .failure(SWIM.ShellError(.pushPullFailed, "\(destination): \(error)"))
        }
    }

    /// The plaintext of a push-pull answer (opened when this member seals its gossip), and
    /// whether it came unsealed to a member that seals (to count once it decodes).
    static func openAnswer(_ payload: [UInt8], from destination: PeerAddress,
                           protection: GossipProtection?) throws(SWIM.ShellError) -> (bytes: [UInt8], plaintext: Bool) {
        guard let protection else {
            guard payload.first != SWIM.GossipSealer.version else {
                throw SWIM.ShellError(.pushPullFailed, "the answer is \(sealedButNoKey)")
            }
            return (payload, false)
        }
        switch protection.incoming(payload, purpose: .pushPull, from: "\(destination)") {
        case .accepted(let opened, let plaintext): return (opened, plaintext)
        case .dropped(.plaintext): throw SWIM.ShellError(.pushPullFailed, "the answer is plaintext; this member requires sealed gossip")
        case .dropped: throw SWIM.ShellError(.pushPullFailed, "the answer does not open with this member's gossip keyring")
        }
    }

    /// Accepts push-pull connections until the listener closes, answering at most
    /// `maxConcurrentPushPulls` at a time.
    func acceptLoop(_ listener: TCPListener) async {
        while !isShutDown {
            let connection: TCPConnection
            do {
                connection = try await listener.accept()
            } catch let error as NetworkError where error.code == .ioFailed {
                // Out of descriptors or similar: back off briefly instead of spinning.
                configuration.logger.warning("push-pull accept failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(50))
                continue
            } catch {
                return
            }
            guard answering < configuration.maxConcurrentPushPulls else {
                configuration.logger.warning("too many push-pull exchanges at once; closing a connection",
                                             metadata: ["peer": "\(connection.remoteAddress)"])
                connection.close()
                continue
            }
            answering += 1
            let framed = FramedConnection(connection, maxPayloadBytes: configuration.maxPushPullBytes)
            let timeout = configuration.pushPullTimeout
            answeringTasks.spawn(executorPreference: loop) {
                await self.serve(framed, timeout: timeout)
                await self.finishedAnswering()
            }
        }
    }

    func finishedAnswering() { answering -= 1 }

    /// Reads the first frame of an accepted connection (bounded by the push-pull timeout) and
    /// answers it.
    nonisolated func serve(_ connection: FramedConnection, timeout: Duration) async {
        let peer = connection.connection.remoteAddress
        let frame: Frame
        do {
            frame = try await withTimeout(timeout, "first push-pull frame from \(peer)") {
                var frames = connection.frames().makeAsyncIterator()
                guard let frame = try await frames.next() else {
                    throw SWIM.ShellError(.pushPullFailed, "\(peer) closed the connection before sending a frame")
                }
                return frame
            }
        } catch {
            connection.close()
            configuration.logger.debug("push-pull request not read", metadata: ["peer": "\(peer)", "error": "\(error)"])
            return
        }
        await answerPushPull(frame, on: connection)
    }

    /// Answers a push-pull request that arrived as `frame` on `connection` (for an internode
    /// listener shared with other protocols: it hands over frames of type
    /// ``pushPullFrameType``). Merges the pushed state, sends ours back and closes the connection.
    public nonisolated func answerPushPull(_ frame: Frame, on connection: FramedConnection) async {
        defer { connection.close() }
        let peer = connection.connection.remoteAddress
        let logger = configuration.logger
        guard frame.type == Self.pushPullFrameType else {
            logDropped(.unexpectedFrame, "unexpected frame on the push-pull port", metadata: [
                "peer": "\(peer)", "type": "\(frame.type)", "expected": "\(Self.pushPullFrameType)",
            ])
            return
        }
        var payload = frame.payload
        var plaintextLetThrough = false
        if let protection {
            switch protection.incoming(payload, purpose: .pushPull, from: "\(peer)") {
            case .accepted(let opened, let plaintext):
                payload = opened
                plaintextLetThrough = plaintext
            case .dropped(.plaintext):
                await refuse(connection, "this member requires gossip sealed with the cluster's gossip key")
                return
            case .dropped:
                await refuse(connection, "it does not open with this member's gossip keyring (members must share a key and label)")
                return
            }
        } else if payload.first == SWIM.GossipSealer.version {
            logDropped(.sealedWithoutKey, "refused a push-pull state: \(Self.sealedButNoKey)", metadata: ["peer": "\(peer)"])
            await refuse(connection, "this member runs without gossip encryption")
            return
        }
        let remote: SWIM.PushPullState
        let label: String?
        do {
            (label, remote) = try SWIM.WireCodec.decodeLabelledPushPull(payload)
        } catch {
            logDropped(.undecodable, "dropped a push-pull state that does not decode", metadata: ["peer": "\(peer)", "reason": "\(error)"])
            return
        }
        let from = PeerAddress(host: peer.host, port: peer.port)
        let sealed = frame.payload.first == SWIM.GossipSealer.version
        // The pushing member's own SWIM address (the connection comes from another port).
        let member = remote.members.first { $0.id == remote.sender }?.address
        let admitted = sealed ? true : await admits(label, from: from, member: member, "push-pull state")
        guard admitted else {
            await refuse(connection, "it is labelled for cluster \(label.map(\.debugDescription) ?? "")"
                         + "; this member's cluster is \(wireLabel.map(\.name.debugDescription) ?? "")")
            return
        }
        if plaintextLetThrough { protection?.countPlaintextAccepted() }
        guard let reply = await mergePushed(remote, from: from) else { return }
        // Answered in kind: a member that sent no label (an older version) could not read one.
        let plaintext = SWIM.WireCodec.encode(reply, label: label == nil ? nil : plaintextLabel)
        guard let answer = Self.sealed(plaintext, purpose: .pushPull, with: protection) else { return }
        do {
            try await withTimeout(configuration.pushPullTimeout, "push-pull answer to \(peer)") {
                try await connection.send(Frame(type: Self.pushPullFrameType, payload: answer))
            }
        } catch {
            logger.debug("push-pull answer not sent", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }
}

// MARK: - Refusing push-pull states

/// Why a push-pull request was dropped before its state was read.
enum PushPullDrop: Hashable, Sendable {
    /// A frame of another type than a push-pull state.
    case unexpectedFrame
    /// Sealed, but this member has no gossip key.
    case sealedWithoutKey
    /// Not a push-pull state the codec reads.
    case undecodable
}

extension SWIM.Shell {
    /// Tells the other member why its state was not taken (plain text in a refusal frame: a
    /// diagnostic for its log, which it never trusts for anything else), then the caller closes.
    nonisolated func refuse(_ connection: FramedConnection, _ reason: String) async {
        let frame = Frame(type: Self.pushPullRefusedFrameType, payload: Array(reason.utf8))
        _ = try? await withTimeout(configuration.pushPullTimeout, "push-pull refusal") { try await connection.send(frame) }
    }

    /// Logs a push-pull request dropped for `kind` at most once per
    /// ``GossipProtection/logInterval`` per kind, with the number held back since the last line.
    nonisolated func logDropped(_ kind: PushPullDrop, _ message: String, metadata: Logger.Metadata) {
        let (log, suppressed) = pushPullDropLog.withLock { $0.shouldLog(kind, at: origin.duration(to: .now)) }
        guard log else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        configuration.logger.warning(message, metadata: metadata)
    }
}
