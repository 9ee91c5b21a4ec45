import DiscoCore
import DiscoNet
import DiscoTestKit
import HotCold
import LeaseCore
import Synchronization
import Testing

/// A graceful hand-over (a stop, as SIGTERM does it, or a move) stops admitting writes at once,
/// waits for the writes the hot already passed to its upstream, at most the drain timeout, and
/// only then releases the lease: the successor's token is not used before they answered.
@Suite("Hot/cold graceful hand-over waits for writes in flight")
struct HotColdHandOverTests {
    static let timeout: Duration = .seconds(30)

    enum HandOver: String, CaseIterable, CustomStringConvertible {
        case stop, move
        var description: String { rawValue }
    }

    /// An upstream that records each write it receives and answers it when `answer` says so.
    final class HeldUpstream: Sendable {
        private struct State {
            var tokens: [String] = []
            var answeredAt: [ContinuousClock.Instant] = []
        }
        private let state = Mutex(State())
        private let release: @Sendable () async -> Void

        /// `release` returns when a write may be answered (a slow application, or one held by the test).
        init(release: @escaping @Sendable () async -> Void) {
            self.release = release
        }

        var tokens: [String] { state.withLock { $0.tokens } }
        var answeredAt: [ContinuousClock.Instant] { state.withLock { $0.answeredAt } }

        var responder: HTTPResponder {
            HTTPResponder { request in
                self.state.withLock { $0.tokens.append(request.headers["Disco-Fencing-Token"] ?? "none") }
                await self.release()
                self.state.withLock { $0.answeredAt.append(.now) }
                return .text("written")
            }
        }
    }

    static func write() -> HTTPStreamingRequest {
        HTTPStreamingRequest(method: "POST", target: "/orders", body: .bytes(Array("order".utf8)))
    }

    /// b (hot) gets a write its application answers after 1.5 s; the hand-over starts while it is
    /// in flight. New writes are refused at once, the slow one answers 200, and a is hot with a
    /// higher token only after that answer.
    @Test(arguments: HandOver.allCases)
    func aSlowWriteInFlightAnswersBeforeTheSuccessorIsHot(handOver: HandOver) async throws {
        try await withReplicas(leader: "a") { replicas in
            let b = try await replicas.started("b") {
                $0.priority = 5
                $0.drainTimeout = .seconds(120)
            }
            let a = replicas.start("a")  // the leader last, so it knows every candidate
            try await waitUntil("b hot", timeout: Self.timeout) { replicas.hot() == "b" }
            let upstream = HeldUpstream { try? await Task.sleep(for: .milliseconds(1500)) }
            let fencing = FencingTokenMiddleware(gate: b.gate)
            async let slow = fencing.handle(Self.write(), next: upstream.responder)
            try await waitUntil("the write reached b's upstream", timeout: Self.timeout) { upstream.tokens.count == 1 }
            let token = try #require(UInt64(upstream.tokens[0]))
            switch handOver {
            case .stop: b.stop()
            case .move: #expect(await b.move(to: "a") == .applied(.moveRequested(.default, to: "a")))
            }
            try await waitUntil("b stopped acting", timeout: Self.timeout) { b.gate.status().state == .cold }
            // A new write is refused by b without reaching its upstream (a 503, as when no replica is hot).
            let refused = try await fencing.handle(Self.write(), next: upstream.responder)
            #expect(refused.status == 503)
            #expect(upstream.tokens.count == 1)
            let answer = try await slow
            #expect(answer.status == 200)
            try await waitUntil("a hot with a higher token", timeout: Self.timeout) { replicas.hot(above: token) == "a" }
            let answered = try #require(upstream.answeredAt.first)
            let successor = try #require(a.gate.recentHotPeriods.first { $0.token > token })
            #expect(successor.from > answered, "a acted with token \(successor.token) before b's write with \(token) answered")
            #expect(replicas.releases.map(\.node) == ["b"], "b released the lease after its write answered")
            #expect(replicas.hotPeriodViolations() == [])
        }
    }

    /// A write still in flight at the drain timeout (1 s here) does not hold the hand-over up:
    /// b releases at the timeout, a is hot with a higher token while the write is unanswered, and
    /// not before the timeout passed after b stepped down.
    @Test(arguments: HandOver.allCases)
    func aWriteLongerThanTheDrainTimeoutIsNotWaitedForPastIt(handOver: HandOver) async throws {
        let (held, letGo) = AsyncStream<Void>.makeStream()
        defer { letGo.finish() }
        try await withReplicas(leader: "a") { replicas in
            let b = try await replicas.started("b") {
                $0.priority = 5
                $0.drainTimeout = .seconds(1)
            }
            let a = replicas.start("a")
            try await waitUntil("b hot", timeout: Self.timeout) { replicas.hot() == "b" }
            let upstream = HeldUpstream { for await _ in held { break } }
            async let stuck = FencingTokenMiddleware(gate: b.gate).handle(Self.write(), next: upstream.responder)
            try await waitUntil("the write reached b's upstream", timeout: Self.timeout) { upstream.tokens.count == 1 }
            let token = try #require(UInt64(upstream.tokens[0]))
            switch handOver {
            case .stop: b.stop()
            case .move: #expect(await b.move(to: "a") == .applied(.moveRequested(.default, to: "a")))
            }
            try await waitUntil("a hot with a higher token", timeout: Self.timeout) { replicas.hot(above: token) == "a" }
            #expect(upstream.answeredAt.isEmpty && b.gate.writesInFlight == 1, "the write is still in flight")
            // b's last hot period ended when it stepped down (or earlier, at a missed deadline).
            let steppedDown = try #require(b.gate.recentHotPeriods.last { $0.token == token }).until
            let successor = try #require(a.gate.recentHotPeriods.first { $0.token > token })
            #expect(successor.from >= steppedDown + .seconds(1), "b released before its drain timeout")
            #expect(replicas.releases.map(\.node) == ["b"])
            letGo.yield()
            #expect(try await stuck.status == 200)
            #expect(b.gate.writesInFlight == 0)
            #expect(replicas.hotPeriodViolations() == [])
        }
    }

    // MARK: The gate's count

    private func hotGate() -> HotColdGate {
        let gate = HotColdGate(status: HotColdStatus(group: "orders", node: "a", sinceWallNanoseconds: 0))
        gate.markHot(token: 3, until: .now + .seconds(600), now: .now, wallNanoseconds: 0)
        return gate
    }

    @Test func aClosedGateAdmitsNoWriteAndTheWaitEndsWithTheLastAnswer() async throws {
        let gate = hotGate()
        #expect(gate.admitWrite() == 3 && gate.admitWrite() == 3)
        #expect(gate.fencingToken() == 3 && gate.writesInFlight == 2, "a read's token is not a write in flight")
        gate.markCold(reason: .stopping, now: .now, wallNanoseconds: 0)
        #expect(gate.admitWrite() == nil && gate.writesInFlight == 2)
        async let drained = gate.waitForWritesInFlight(within: .seconds(600))
        gate.writeAnswered()
        #expect(gate.writesInFlight == 1)
        gate.writeAnswered()
        #expect(await drained)
        #expect(await gate.waitForWritesInFlight(within: .zero), "nothing in flight: no wait")
    }

    @Test func theWaitEndsAtItsTimeoutWithAWriteStillInFlight() async throws {
        let gate = hotGate()
        #expect(gate.admitWrite() == 3)
        gate.markCold(reason: .moved, now: .now, wallNanoseconds: 0)
        #expect(await gate.waitForWritesInFlight(within: .milliseconds(20)) == false)
        #expect(gate.writesInFlight == 1)
        gate.writeAnswered()
        #expect(gate.writesInFlight == 0)
    }

    @Test func aWriteThatFailsIsNoLongerInFlight() async throws {
        struct Refused: Error {}
        let gate = hotGate()
        let failing = HTTPResponder { _ in throw Refused() }
        await #expect(throws: Refused.self) { try await FencingTokenMiddleware(gate: gate).handle(Self.write(), next: failing) }
        #expect(gate.writesInFlight == 0)
    }
}
