import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - Cluster labels on plaintext gossip: real UDP and TCP on loopback

@Suite(.serialized) struct ClusterLabelShellTests {
    /// Refused traffic is logged on purpose here; keep stderr quiet.
    static let quiet = Logger.Level.critical

    static func labelled(_ name: String) -> (inout SWIM.Shell.Configuration) -> Void {
        { $0.clusterLabel = name }
    }

    /// Cluster B starts a member with the ID and address of a crashed member of cluster A (pods
    /// of two namespaces with the same names). A's members keep probing that address and
    /// re-contacting it by push-pull; without labels it would answer, and the two memberships
    /// would merge. With labels every such message is refused, and neither side learns the other.
    @Test func twoClustersReusingAnAddressNeverMerge() async throws {
        try await withShells { group in
            var alpha: [SWIM.Shell] = []
            for index in 0..<3 {
                let shell = try await group.start("n\(index)", logLevel: Self.quiet, configure: Self.labelled("alpha"))
                if let first = alpha.first { try await shell.join(seeds: [first.address]) }
                alpha.append(shell)
            }
            try await waitForConvergence(alpha)
            let reused = alpha[2]
            await reused.shutdown()  // a crash: no leave
            // The port can be held for a while by a connection of a test running beside this one
            // (the OS hands out its ephemeral ports from the same range): bind until it is free.
            var started: SWIM.Shell?
            try await waitUntil("n2's port to be free for beta's n2", timeout: .seconds(60), pollEvery: .milliseconds(200)) {
                started = try? await group.start("n2", port: reused.address.port, logLevel: Self.quiet, configure: Self.labelled("beta"))
                return started != nil
            }
            let impostor = try #require(started)
            let betaPeer = try await group.start("m1", logLevel: Self.quiet, configure: Self.labelled("beta"))
            try await betaPeer.join(seeds: [impostor.address])
            let beta = [impostor, betaPeer]
            let survivors = Array(alpha.prefix(2))

            func merged() async -> Bool {
                for shell in survivors where await shell.member("m1") != nil { return true }
                for shell in beta {
                    for id: NodeID in ["n0", "n1"] where await shell.member(id) != nil { return true }
                }
                return false
            }
            var sawMerge = false
            // Probes of n2 (datagrams) and reconnects to it once dead (push-pull, every 2 s with
            // test settings) must both have been refused several times to make this meaningful.
            try await waitUntil("cluster beta to refuse alpha's datagrams and push-pulls, or the clusters to merge",
                                timeout: .seconds(60)) {
                if await merged() { sawMerge = true; return true }
                let refused = await impostor.statistics.clusterRefusals
                let pushPullsRefused = await survivors.asyncMap { await $0.statistics.pushPullsRefused }.reduce(0, +)
                return refused >= 20 && pushPullsRefused >= 3
            }
            #expect(!sawMerge, "the memberships of clusters alpha and beta merged")
            try await waitForConvergence(beta)
            for shell in survivors {
                #expect(await shell.member("m1") == nil, "\(shell.id) learned beta's member m1")
                #expect(await shell.member("n2")?.status.isLive != true, "\(shell.id) sees beta's n2 as its own")
            }
            for shell in beta {
                #expect(await shell.member("n0") == nil, "\(shell.id) learned alpha's member n0")
                #expect(await shell.member("n1") == nil, "\(shell.id) learned alpha's member n1")
            }
            #expect(await impostor.statistics.unlabelledAccepted == 0)
        }
    }

    /// A member of an older version sends no label: its datagrams and push-pull states are
    /// accepted, and it is answered without a label (it could not read one). A datagram labelled
    /// for another cluster is dropped; one labelled for ours is answered with our label.
    @Test func unlabelledMessagesFromAnOlderMemberAreAcceptedAndAnsweredInKind() async throws {
        try await withShells { group in
            let target = try await group.start("t", logLevel: Self.quiet, configure: Self.labelled("alpha"))
            let raw = try await UDPSocket.bind()
            defer { raw.close() }
            let to = try #require(SocketAddress(numericHost: target.address.host, port: target.address.port))
            let own = PeerAddress(host: raw.localAddress.host, port: raw.localAddress.port)
            let alive = { (id: NodeID) in
                SWIM.GossipItem.alive(id: id, incarnation: 1, address: own, metadata: SWIM.Metadata())
            }

            // Another cluster's gossip is dropped and counted.
            let foreign = SWIM.Packet(message: .gossip, gossip: [alive("foreign")])
            try await raw.send(SWIM.WireCodec.encode(foreign, label: try SWIM.WireLabel("beta")), to: to)
            try await waitUntil("the foreign datagram to be refused") { await target.statistics.clusterRefusals == 1 }
            #expect(await target.member("foreign") == nil)

            // An older member's unlabelled ping is taken, and its ack comes back unlabelled.
            let ping = SWIM.Packet(message: .ping(sequence: 41, source: "old", target: "t"), gossip: [alive("old")])
            try await raw.send(SWIM.WireCodec.encode(ping), to: to)
            let ack = try await Self.receive(on: raw) { $0.message == .ack(sequence: 41, source: "t") }
            #expect(ack.label == nil)
            #expect(await target.member("old")?.status == .alive)
            #expect(await target.statistics.unlabelledAccepted >= 1)

            // Once it sends labelled, it is answered labelled again.
            let labelledPing = SWIM.Packet(message: .ping(sequence: 42, source: "old", target: "t"))
            try await raw.send(SWIM.WireCodec.encode(labelledPing, label: try SWIM.WireLabel("alpha")), to: to)
            let labelledAck = try await Self.receive(on: raw) { $0.message == .ack(sequence: 42, source: "t") }
            #expect(labelledAck.label == "alpha")
            #expect(await target.statistics.clusterRefusals == 1)

            // Push-pull: an unlabelled state is merged and answered unlabelled, and its sender is
            // then probed without a label; beta's state is refused.
            let older = try await UDPSocket.bind()
            defer { older.close() }
            let state = SWIM.PushPullState(sender: "older", isJoin: false, members: [
                SWIM.MemberState(id: "older", address: PeerAddress(host: older.localAddress.host, port: older.localAddress.port),
                                 incarnation: 1, status: .alive, metadata: SWIM.Metadata()),
            ])
            let answer = try await Self.pushPull(SWIM.WireCodec.encode(state), to: target)
            #expect(answer.type == SWIM.Shell.pushPullFrameType)
            #expect(throws: Never.self) { _ = try SWIM.WireCodec.decodePushPull(answer.payload) }
            #expect(await target.member("older") != nil)
            let probe = try await Self.receive(on: older) {
                if case .ping(_, _, "older") = $0.message { return true }
                return false
            }
            #expect(probe.label == nil)
            var foreignState = state
            foreignState.sender = "stranger"
            foreignState.members[0].id = "stranger"
            let refusal = try await Self.pushPull(SWIM.WireCodec.encode(foreignState, label: try SWIM.WireLabel("beta")), to: target)
            #expect(refusal.type == SWIM.Shell.pushPullRefusedFrameType)
            let reason = String(decoding: refusal.payload, as: UTF8.self)
            #expect(reason.contains("\"beta\"") && reason.contains("\"alpha\""), "\(reason)")
            #expect(await target.member("stranger") == nil)
            #expect(await target.statistics.clusterRefusals == 2)
        }
    }

    @Test func aLabelThatCannotBeSentIsRefusedAtStart() async throws {
        var configuration = SWIM.Shell.Configuration(id: "w")
        configuration.clusterLabel = String(repeating: "x", count: 256)
        let error = await #expect(throws: SWIM.ConfigurationError.self) { _ = try await SWIM.Shell.start(configuration) }
        #expect(error?.field == "clusterLabel")
        #expect(error?.description.contains("at most 255") == true, "\(String(describing: error))")
    }

    /// The first datagram on `socket` whose packet satisfies `matches`, with its label.
    static func receive(on socket: UDPSocket, _ matches: (SWIM.Packet) -> Bool) async throws -> (label: String?, packet: SWIM.Packet) {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard let datagram = try await socket.receive(maxBytes: 65_536, timeout: .seconds(1)) else { continue }
            if let decoded = try? SWIM.WireCodec.decodeLabelledPacket(datagram.bytes), matches(decoded.packet) { return decoded }
        }
        throw AgentTestError("no matching datagram within 30 s")
    }

    /// Sends `payload` as a push-pull request to `shell` and returns the frame it answers with.
    static func pushPull(_ payload: [UInt8], to shell: SWIM.Shell) async throws -> Frame {
        let connection = try await FramedConnection.connect(host: shell.address.host, port: shell.address.port, timeout: .seconds(30),
                                                            maxPayloadBytes: 1 << 20, group: .shared, transport: PlainTransportFactory())
        defer { connection.close() }
        try await connection.send(Frame(type: SWIM.Shell.pushPullFrameType, payload: payload))
        var frames = connection.frames().makeAsyncIterator()
        guard let frame = try await frames.next() else { throw AgentTestError("the shell closed without answering") }
        return frame
    }
}
