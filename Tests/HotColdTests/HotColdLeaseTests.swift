import DiscoCore
import DiscoTestKit
import HotCold
import LeaseCore
import Testing

/// The lease shell over the in-memory stores with the real clock and the harness's timing
/// (ttl 1.6s, renew deadline 1.3s, renew every 300ms).
@Suite("Hot/cold lease shell")
struct HotColdLeaseTests {
    static let timeout: Duration = .seconds(30)

    @Test(arguments: LeaseBackend.allCases)
    func theEligibleReplicaWithTheHighestPriorityBecomesHotAndStaysHot(backend: LeaseBackend) async throws {
        try await withReplicas(leader: "a", backend: backend) { replicas in
            let b = try await replicas.started("b") { $0.priority = 5 }
            let c = try await replicas.started("c") {
                $0.priority = 10
                $0.mayBeHot = false
            }
            replicas.start("a")  // the leader last, so it knows every candidate
            try await waitUntil("b hot", timeout: Self.timeout) { replicas.hot() == "b" }
            #expect(b.gate.status().token == 1)
            #expect(replicas.cluster.lease(.default).token == 1)
            // It keeps its lease through many renewals: no other grant, still token 1.
            try await waitUntil("b renewed 8 times", timeout: Self.timeout) { b.metrics.renewals(.renewed) >= 8 }
            try await waitUntil("b the one hot replica", timeout: Self.timeout) { replicas.hotNodes() == ["b"] }
            #expect(replicas.grants.map(\.token) == [1])
            #expect(c.gate.status().state == .cold)
            #expect(!c.gate.status().mayBeHot)
            #expect(replicas.hotPeriodViolations() == [])
        }
    }

    @Test(arguments: LeaseBackend.allCases)
    func anotherReplicaTakesOverAfterTheHotIsKilledWithAHigherToken(backend: LeaseBackend) async throws {
        try await withReplicas(leader: "a", backend: backend) { replicas in
            let b = try await replicas.started("b") { $0.priority = 5 }
            try await replicas.started("c") { $0.priority = 1 }
            replicas.start("a")  // the leader last, so it knows every candidate
            try await waitUntil("b hot", timeout: Self.timeout) { replicas.hot() == "b" }
            // Killed as soon as one of its renewals has come back, so the last renewal the leader
            // applied is that one, however late a loaded machine ran the renewals before it.
            let renewals = b.metrics.renewals(.renewed)
            try await waitUntil("b to renew once more", timeout: Self.timeout, pollEvery: .milliseconds(2)) {
                b.metrics.renewals(.renewed) > renewals
            }
            let killed = ContinuousClock.now
            replicas.kill("b")
            try await waitUntil("c hot with token 2", timeout: Self.timeout) { replicas.hot(above: 1) == "c" }
            let failover = ContinuousClock.now - killed
            // Granted only after the ttl counted from the last renewal the leader applied (which
            // was applied just before the kill; a renew period of slack for its answer's way back).
            let lease = ReplicaHarness.testLease
            #expect(failover >= lease.ttl - lease.renewPeriod - .milliseconds(50))
            #expect(replicas.grants.map(\.token) == [1, 2])
            #expect(replicas.grants.map(\.node) == ["b", "c"])
            #expect(replicas.releases.isEmpty)
            #expect(replicas.hotPeriodViolations() == [])
        }
    }

    @Test(arguments: LeaseBackend.allCases)
    func tokensStrictlyIncreaseOverRepeatedFailovers(backend: LeaseBackend) async throws {
        try await withReplicas(leader: "a", backend: backend) { replicas in
            try await replicas.started("b")
            try await replicas.started("c")
            replicas.start("a")  // the leader last, so it knows every candidate
            var token: UInt64 = 0
            for _ in 0..<3 {
                try await waitUntil("a replica hot above token \(token)", timeout: Self.timeout) { replicas.hot(above: token) != nil }
                let hot = try #require(replicas.hot(above: token))
                let next = replicas.shell(hot).gate.status().token
                #expect(next > token)
                token = next
                replicas.kill(hot)
                replicas.start(hot)  // a new process of the same node, cold
            }
            let tokens = replicas.grants.map(\.token)
            #expect(tokens == Array(1...UInt64(tokens.count)))
            #expect(replicas.hotPeriodViolations() == [])
        }
    }

    @Test(arguments: LeaseBackend.allCases)
    func anUnhealthyHotStepsDownAtOnceAndReleasesSoTheNextNeedNotWaitForTheTTL(backend: LeaseBackend) async throws {
        try await withReplicas(leader: "a", backend: backend) { replicas in
            let b = try await replicas.started("b") { $0.priority = 5 }
            try await replicas.started("c") { $0.priority = 1 }
            replicas.start("a")  // the leader last, so it knows every candidate
            try await waitUntil("b hot", timeout: Self.timeout) { replicas.hot() == "b" }
            b.setUpstreamHealthy(false)
            // The gate closes in the call itself, before the lease loop has run.
            #expect(b.gate.fencingToken() == nil)
            #expect(b.gate.status().state == .cold)
            try await waitUntil("c hot with token 2", timeout: Self.timeout) { replicas.hot(above: 1) == "c" }
            #expect(replicas.releases.map(\.node) == ["b"])
            // (Unless a loaded runner made b miss its deadline first: then it was cold already.)
            #expect([.unhealthy, .expired].contains(b.gate.status().coldReason))
            #expect(!b.gate.status().healthy)
            // Healthy again, b waits: a holder that keeps renewing is never pre-empted.
            b.setUpstreamHealthy(true)
            try await waitUntil("b healthy in its status", timeout: Self.timeout) { b.gate.status().healthy }
            let renewed = replicas.shell("c").metrics.renewals(.renewed)
            // A stall of a loaded machine past c's renew deadline ends its hold (cold, "expired"),
            // and the lease may then rightly go to b: nothing is left to check about pre-emption.
            var expired = false
            try await waitUntil("c renewed 5 more times", timeout: Self.timeout) {
                expired = replicas.shell("c").gate.status().coldReason == .expired
                return expired || replicas.shell("c").metrics.renewals(.renewed) >= renewed + 5
            }
            if !expired {
                // (A replica under heavy load may miss a deadline and be hot again a moment later: poll.)
                try await waitUntil("c the one hot replica", timeout: Self.timeout) { replicas.hotNodes() == ["c"] }
            }
            #expect(replicas.hotPeriodViolations() == [])
        }
    }

    @Test(arguments: LeaseBackend.allCases)
    func aPausedHotNeverActsAfterItsDeadlineAndStaysColdWhenItWakes(backend: LeaseBackend) async throws {
        try await withReplicas(leader: "a", backend: backend) { replicas in
            let b = try await replicas.started("b") { $0.priority = 5 }
            try await replicas.started("c") { $0.priority = 1 }
            replicas.start("a")  // the leader last, so it knows every candidate
            try await waitUntil("b hot", timeout: Self.timeout) { replicas.hot() == "b" }
            let staleToken = b.gate.status().token
            b.pauseLoop()
            try await waitUntil("c hot with a higher token", timeout: Self.timeout) { replicas.hot(above: staleToken) == "c" }
            // b's loop has not run since the pause, yet its gate reads the clock: not acting, and
            // its status says suspended (the loop, when it runs, makes it cold).
            #expect(b.gate.fencingToken() == nil)
            #expect(b.gate.status().state == .suspended)
            #expect(b.gate.status().token == staleToken)
            let pausedPeriod = try #require(b.gate.recentHotPeriods.last)
            let takeover = try #require(replicas.shell("c").gate.recentHotPeriods.last)
            #expect(pausedPeriod.until <= takeover.from)
            // A write b prepared before its pause is refused by a fenced store once c has written.
            var store = FencedBackend()
            let newToken = replicas.shell("c").gate.status().token
            let newAccepted = store.write(token: newToken)
            let staleAccepted = store.write(token: staleToken)
            #expect(newAccepted && !staleAccepted)
            b.resumeLoop()
            try await waitUntil("b notices it is cold", timeout: Self.timeout) { (b.metrics.coldTransitions.values.reduce(0, +)) >= 1 }
            let renewed = replicas.shell("c").metrics.renewals(.renewed)
            try await waitUntil("c renewed 5 more times", timeout: Self.timeout) {
                replicas.shell("c").metrics.renewals(.renewed) >= renewed + 5
            }
            // (A replica under heavy load may miss a deadline and be hot again a moment later: poll.)
            try await waitUntil("c the one hot replica", timeout: Self.timeout) { replicas.hotNodes() == ["c"] }
            #expect(b.gate.recentHotPeriods.allSatisfy { $0.token == staleToken })
            #expect(replicas.hotPeriodViolations() == [])
        }
    }

    @Test(arguments: LeaseBackend.allCases)
    func aHotCutOffFromTheLeaderExpiresBeforeAnotherIsGranted(backend: LeaseBackend) async throws {
        try await withReplicas(leader: "a", backend: backend) { replicas in
            let b = try await replicas.started("b") { $0.priority = 5 }
            try await replicas.started("c") { $0.priority = 1 }
            replicas.start("a")  // the leader last, so it knows every candidate
            try await waitUntil("b hot", timeout: Self.timeout) { replicas.hot() == "b" }
            replicas.cluster.setReachable("b", false)
            try await waitUntil("c hot with token 2", timeout: Self.timeout) { replicas.hot(above: 1) == "c" }
            #expect(b.gate.fencingToken() == nil)
            try await waitUntil("b stepped down by itself", timeout: Self.timeout) { b.metrics.coldTransitions["expired"] == 1 }
            replicas.cluster.setReachable("b", true)
            try await waitUntil("b sees c's grant", timeout: Self.timeout) { b.gate.status().holder == "c" }
            // (A replica under heavy load may miss a deadline and be hot again a moment later: poll.)
            try await waitUntil("c the one hot replica", timeout: Self.timeout) { replicas.hotNodes() == ["c"] }
            #expect(replicas.hotPeriodViolations() == [])
        }
    }

    @Test(arguments: LeaseBackend.allCases)
    func aRestartedProcessDoesNotInheritItsPredecessorsLease(backend: LeaseBackend) async throws {
        try await withReplicas(leader: "a", backend: backend) { replicas in
            try await replicas.started("b") { $0.priority = 5 }
            replicas.start("a")  // the leader last, so it knows every candidate
            try await waitUntil("b hot", timeout: Self.timeout) { replicas.hot() == "b" }
            replicas.kill("b")
            let restarted = try await replicas.started("b") { $0.priority = 5 }  // back before the ttl ran out
            try await waitUntil("a replica hot with token 2 or more", timeout: Self.timeout) { replicas.hot(above: 1) != nil }
            #expect(restarted.gate.recentHotPeriods.allSatisfy { $0.token >= 2 })
            // The new process did not renew the lease its predecessor claimed, nor release it at
            // once (the predecessor might be alive, cut off): it waits out the ttl from its own
            // apply, so the leader's ttl, counted from before the kill, moves the lease first
            // (LeaseHolderPredecessorTests and the simulator's zombie scenario time the wait).
            #expect(replicas.releases.allSatisfy { $0.node == "b" && $0.token == 1 })
            #expect(replicas.hotPeriodViolations() == [])
        }
    }

    @Test(arguments: LeaseBackend.allCases)
    func aMoveSwitchesOverToTheTarget(backend: LeaseBackend) async throws {
        try await withReplicas(leader: "a", backend: backend) { replicas in
            let b = try await replicas.started("b") { $0.priority = 5 }
            try await replicas.started("c")
            replicas.start("a")  // the leader last, so it knows every candidate
            try await waitUntil("b hot", timeout: Self.timeout) { replicas.hot() == "b" }
            let outcome = await b.move(to: "c")
            #expect(outcome == .applied(.moveRequested(.default, to: "c")))
            try await waitUntil("c hot", timeout: Self.timeout) { replicas.hot(above: 1) == "c" }
            #expect([.moved, .expired].contains(b.gate.status().coldReason))
            #expect(replicas.releases.map(\.node) == ["b"])
            #expect(replicas.grants.map(\.node) == ["b", "c"])
            #expect(await b.move(to: "c") == .applied(.refused(.default, .alreadyHolder)))
            // The observer (the node's event log) heard b go hot, then cold, then c go hot.
            let told = replicas.changes.map { "\($0.node) \($0.state) \($0.token)" }
            #expect(told.first == "b hot 1")
            #expect(told.last == "c hot 2")
            #expect(told.contains("b cold 1"))
            #expect(replicas.hotPeriodViolations() == [])
        }
    }

    @Test(arguments: LeaseBackend.allCases)
    func stopStepsDownReleasesAndReturns(backend: LeaseBackend) async throws {
        try await withReplicas(leader: "a", backend: backend) { replicas in
            let b = try await replicas.started("b") { $0.priority = 5 }
            replicas.start("a")  // the leader last, so it knows every candidate
            try await waitUntil("b hot", timeout: Self.timeout) { replicas.hot() == "b" }
            b.stop()
            try await waitUntil("b's run returned", timeout: Self.timeout) { replicas.hasFinished(b) }
            #expect(b.gate.fencingToken() == nil)
            #expect([.stopping, .expired].contains(b.gate.status().coldReason))
            #expect(replicas.releases.map(\.node) == ["b"])
            try await waitUntil("a hot", timeout: Self.timeout) { replicas.hot(above: 1) == "a" }
            #expect(replicas.hotPeriodViolations() == [])
        }
    }
}
