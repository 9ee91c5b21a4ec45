import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - Shells on loopback: real UDP and TCP, OS-chosen ports

/// Serialized: each test runs several shells with real timers; running them one at a time keeps
/// the two-core machine from starving them (correctness does not depend on it).
@Suite(.serialized) struct ShellTests {
    @Test func fiveShellsConverge() async throws {
        try await withShells { group in
            let first = try await group.start("c0")
            let recorder = EventRecorder(first)
            var shells = [first]
            for index in 1..<5 {
                let shell = try await group.start("c\(index)")
                let answered = try await shell.join(seeds: [first.address])
                #expect(answered == 1)
                shells.append(shell)
            }
            try await waitForConvergence(shells)
            for shell in shells {
                #expect(await shell.liveMemberCount == 5)
                // Convergence can come from push-pull alone; probes over UDP follow within a period.
                try await waitUntil("\(shell.id) to receive a datagram") { await shell.statistics.datagramsReceived > 0 }
                #expect(await shell.statistics.datagramsDropped == 0)
            }
            // Every joiner exchanged full state with the seed over TCP.
            #expect(await first.statistics.pushPullsAnswered >= 4)
            // The first member's event stream announced every other member.
            try await waitUntil("c0's events to name every joiner") {
                shells.dropFirst().allSatisfy { recorder.names(about: $0.id).first == "joined" }
            }
        }
    }

    @Test func metadataUpdatePropagates() async throws {
        try await withShells { group in
            let shells = try await group.startJoined(3, prefix: "m")
            try await waitForConvergence(shells)
            let observer = EventRecorder(shells[0])
            let updated = SWIM.Metadata(apiAddress: PeerAddress(host: "127.0.0.1", port: 4001), roles: ["gateway"], epoch: 7,
                                        isVoter: true)
            try await shells[2].updateMetadata(updated)
            try await waitUntil("the new metadata to reach every member") {
                for shell in shells where await shell.member(shells[2].id)?.metadata != updated { return false }
                return true
            }
            try await waitUntil("an updated event at m0") { observer.names(about: shells[2].id).contains("updated") }
            #expect(await shells[0].member(shells[2].id)?.incarnation ?? 0 > 0)
        }
    }

    @Test func shellShutDownWithoutLeavingIsDeclaredDead() async throws {
        try await withShells { group in
            let shells = try await group.startJoined(4, prefix: "d")
            try await waitForConvergence(shells)
            let recorder = EventRecorder(shells[0])
            let victim = shells[3]
            await victim.shutdown()
            let survivors = Array(shells.prefix(3))
            try await waitForStatus(survivors, see: victim.id, as: .dead, timeout: .seconds(60))
            // Events reach the recorder through the shell's event stream, after the state changed.
            try await waitUntil("m0's event stream to report the victim dead") { recorder.names(about: victim.id).last == "dead" }
            // The survivors settle on each other as the live members.
            try await waitForConvergence(survivors)
        }
    }

    @Test func gracefulLeaveIsSeenAsLeft() async throws {
        try await withShells { group in
            let shells = try await group.startJoined(3, prefix: "l")
            try await waitForConvergence(shells)
            let recorder = EventRecorder(shells[0])
            let leaver = shells[2]
            await leaver.leave()
            await leaver.shutdown()
            let stayers = Array(shells.prefix(2))
            try await waitForStatus(stayers, see: leaver.id, as: .left)
            // Joined, then left, and never dead. A probe that times out on a loaded machine (or
            // reaches the leaver after it stopped, before its leave's gossip arrives) may make it
            // suspect on the way, and a refutation alive again: nothing else may come between.
            let names = recorder.names(about: leaver.id)
            let between = names.dropFirst().dropLast()
            #expect(names.first == "joined" && names.last == "left" && between.allSatisfy { $0 == "suspect" || $0 == "alive" },
                    "\(names)")
            // Shutdown ends the leaver's own event stream after what it had buffered.
            var buffered = 0
            for await _ in leaver.events { buffered += 1 }
            #expect(buffered >= 2)
            // A member that left is never declared dead afterwards.
            try await waitForConvergence(stayers)
            for shell in stayers { #expect(await shell.member(leaver.id)?.status == .left) }
        }
    }

    @Test func garbageDatagramsAreDroppedWithoutDisturbingTheShell() async throws {
        try await withShells { group in
            let shells = try await group.startJoined(2, prefix: "g")
            try await waitForConvergence(shells)
            let target = shells[0]
            let raw = try await UDPSocket.bind()
            defer { raw.close() }
            guard let destination = SocketAddress(numericHost: target.address.host, port: target.address.port) else {
                Issue.record("cannot address \(target.address)")
                return
            }
            let valid = SWIM.WireCodec.encode(SWIM.Packet(message: .ping(sequence: 1, source: "x", target: "g0")))
            var noise = DeterministicRandom(seed: 42)
            let garbage: [[UInt8]] = [
                [],
                [0xFF],
                [SWIM.WireCodec.version, 99],
                Array(valid.dropLast()),
                valid + [0],
                (0..<1200).map { _ in UInt8.random(in: 0...255, using: &noise) },
            ]
            for datagram in garbage { try await raw.send(datagram, to: destination) }
            try await waitUntil("all \(garbage.count) bad datagrams to be dropped") {
                await target.statistics.datagramsDropped == garbage.count
            }
            let reason = await target.statistics.lastDropReason ?? ""
            #expect(reason.contains("SWIM decode error"))

            // A stranger's bytes on the push-pull port are refused too.
            let stranger = try await TCPConnection.connect(host: target.address.host, port: target.address.port)
            try await stranger.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            _ = try? await stranger.read()
            stranger.close()

            // The shell still works: a new member joins through it and everyone converges.
            let late = try await group.start("g2")
            try await late.join(seeds: [target.address])
            try await waitForConvergence(shells + [late])
            #expect(await target.statistics.datagramsDropped == garbage.count)
        }
    }

    @Test func pushPullMergesTwoSeparateGroups() async throws {
        try await withShells { group in
            let left = try await group.startJoined(3, prefix: "a")
            let right = try await group.startJoined(2, prefix: "b")
            try await waitForConvergence(left)
            try await waitForConvergence(right)
            #expect(await sees(left[0], alive: left))
            // One seed from the other group is enough: the push-pull exchanges full state and
            // gossip carries the rest.
            let answered = try await right[0].join(seeds: [left[0].address])
            #expect(answered == 1)
            try await waitForConvergence(left + right)
        }
    }

    @Test func joinWithoutReachableSeedsFailsClearly() async throws {
        try await withShells { group in
            let shell = try await group.start("lonely")
            let port = try FreePort.loopback()
            let error = await #expect(throws: SWIM.ShellError.self) {
                try await shell.join(seeds: [PeerAddress(host: "127.0.0.1", port: port)])
            }
            #expect(error?.code == .joinFailed)
            #expect(error?.description.contains("127.0.0.1:\(port)") == true)
            #expect(await shell.liveMemberCount == 1)
        }
    }

    /// A seed that is down at join time is re-contacted until it answers.
    @Test func seedStartedLaterIsReachedByReconnecting() async throws {
        try await withShells { group in
            let port = try FreePort.loopback()
            let early = try await group.start("early")
            await #expect(throws: SWIM.ShellError.self) { try await early.join(seeds: [PeerAddress(host: "127.0.0.1", port: port)]) }
            let seed = try await group.start("seed", port: port)
            try await waitForConvergence([early, seed])
            #expect(await early.statistics.pushPullsFailed >= 1)
        }
    }

    @Test func startRejectsUnusableConfiguration() async throws {
        var configuration = SWIM.Shell.Configuration(id: "w", bindHost: "0.0.0.0")
        await #expect(throws: SWIM.ConfigurationError.self) { _ = try await SWIM.Shell.start(configuration) }
        configuration = SWIM.Shell.Configuration(id: "w")
        configuration.settings.probeTimeout = .seconds(5)
        await #expect(throws: SWIM.ConfigurationError.self) { _ = try await SWIM.Shell.start(configuration) }
    }
}
