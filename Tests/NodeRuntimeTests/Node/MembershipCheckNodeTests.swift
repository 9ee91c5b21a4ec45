import Bootstrap
import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Synchronization
import Testing

// MARK: - A join target whose answers a test sets

/// A fake cluster member's `POST /join`: it accepts (naming itself the leader) until the test
/// tells it to refuse, or to hold every question without answering until released.
final class FakeJoinTarget: Sendable {
    enum Behaviour: Sendable {
        case accept
        case refuse(status: Int, message: String)
        /// Accepts the connection and the request and answers nothing until ``release()``.
        case hold
    }

    let server: HTTPServer
    private let behaviour = Mutex(Behaviour.accept)
    private let released = Atomic<Bool>(false)
    /// Questions received since the last ``become(_:)``.
    private let questions = Atomic<Int>(0)

    private init(server: HTTPServer) {
        self.server = server
    }

    static func start() async throws -> FakeJoinTarget {
        let box = Mutex<FakeJoinTarget?>(nil)
        let server = try await HTTPServer.start { _ in
            guard let target = box.withLock({ $0 }) else { return HTTPResponse(status: 503, bytes: BootstrapWire.errorBody("starting")) }
            return await target.answer()
        }
        let target = FakeJoinTarget(server: server)
        box.withLock { $0 = target }
        return target
    }

    var address: PeerAddress { PeerAddress(host: "127.0.0.1", port: server.localAddress.port) }
    var questionsReceived: Int { questions.load(ordering: .relaxed) }

    func become(_ next: Behaviour) {
        behaviour.withLock { $0 = next }
        questions.store(0, ordering: .relaxed)
    }

    func release() { released.store(true, ordering: .relaxed) }

    private func answer() async -> HTTPResponse {
        questions.add(1, ordering: .relaxed)
        switch behaviour.withLock({ $0 }) {
        case .accept:
            let leader = ClusterLeader(id: "fake", apiAddress: address.description, raftAddress: "127.0.0.1:9")
            return HTTPResponse(status: 200, bytes: BootstrapWire.encode(JoinAccepted(leader: leader, cluster: "disco", epoch: 4)))
        case .refuse(let status, let message):
            return HTTPResponse(status: status, bytes: BootstrapWire.errorBody(message))
        case .hold:
            try? await waitUntil("the held question released", timeout: .seconds(600)) { self.released.load(ordering: .relaxed) }
            return HTTPResponse(status: 503, bytes: BootstrapWire.errorBody("no leader yet"))
        }
    }

    func shutdown() async {
        release()
        await server.shutdown(gracePeriod: .seconds(1))
    }
}

// MARK: - Asking whether this node is still a member

/// A non-voter that joined and never hears a leader asks its join targets, every few rounds,
/// whether it is still a member: all of them at once, acting on the first definitive answer,
/// with a refusal that repeats logged once a minute.
@Suite struct MembershipCheckNodeTests {
    /// A non-voter joining through `targets`, checking often, whose questions time out only
    /// after ten minutes (longer than any test waits).
    static func leaderlessNonVoter(joining targets: [FakeJoinTarget]) throws -> TestNodeSetup {
        var setup = try TestNodeSetup(id: "m2", prefix: "disco-membership-check")
        setup.configuration.cluster.voter = false
        setup.configuration.formation.plan = .join
        setup.configuration.formation.join = targets.map(\.address)
        setup.configuration.formation.notifyTimeout = .seconds(600)
        setup.configuration.timing.reconcileInterval = .milliseconds(20)
        setup.configuration.timing.removedLinger = .milliseconds(100)
        return setup
    }

    /// The first target (in the order asked) holds its question and never answers; the second
    /// says the node was removed. Asked one after the other, the verdict would wait for the
    /// first question's ten-minute timeout; asked at once, it comes while the first is held.
    @Test func aTargetThatNeverAnswersDoesNotHoldUpTheVerdictOfTheOthers() async throws {
        let one = try await FakeJoinTarget.start()
        let two = try await FakeJoinTarget.start()
        let (hole, remover) = one.address < two.address ? (one, two) : (two, one)
        let setup = try Self.leaderlessNonVoter(joining: [remover, hole])
        defer { setup.removeDirectory() }
        let joiner = try await RunningNode.start(setup.configuration)
        // The join goes to the first target configured (it accepts); the hole hears only checks.
        try await waitUntil("m2 to join and ask whether it is still a member", timeout: .seconds(120)) { hole.questionsReceived >= 2 }
        hole.become(.hold)
        remover.become(.refuse(status: 410, message: "node m2 is not a member of cluster \"disco\" any more: it was removed"))
        try await waitUntil("m2 to hear, while the first target still holds its question, that it was removed",
                            timeout: .seconds(120)) { joiner.node.removal != nil }
        #expect(remover.questionsReceived >= 1)
        hole.release()
        let failure = await joiner.outcome()
        #expect("\(failure.map { "\($0)" } ?? "none")".contains("m2 was removed from the cluster"))
        await one.shutdown()
        await two.shutdown()
    }

    /// A target that refuses the question again and again gets one warning, not one per
    /// question; once the repeat interval has passed, one more, with the count held back.
    @Test func aRepeatedRefusalIsLoggedOnceAMinuteWithItsCount() async throws {
        let target = try await FakeJoinTarget.start()
        let setup = try Self.leaderlessNonVoter(joining: [target])
        defer { setup.removeDirectory() }
        let sink = MemoryLogSink()
        let clock = ManualNow()
        let node = try await Node.start(setup.configuration, logger: testLogger(.warning, sink: sink))
        node.useMembershipRefusalClock { clock.elapsed }
        let joiner = RunningNode(node)
        // The join, then two checks.
        try await waitUntil("m2 to join and ask whether it is still a member", timeout: .seconds(120)) { target.questionsReceived >= 3 }
        let reason = "node m2's join describes its generation 1, but the cluster recorded generation 2"
        target.become(.refuse(status: 409, message: reason))
        func refusals() -> [String] { sink.lines.filter { $0.contains("is still a member") && $0.contains(reason) } }
        // The sixth question is asked only after the answer to the fifth was handled.
        try await waitUntil("m2 to be refused five times", timeout: .seconds(120)) { target.questionsReceived >= 6 }
        #expect(refusals().count == 1, "\(refusals())")
        #expect(refusals().first?.contains("more time") == false)

        clock.advance(by: MembershipRefusalLog.repeatInterval)
        try await waitUntil("the refusal to be logged again, with its count", timeout: .seconds(120)) { refusals().count >= 2 }
        let repeated = refusals()[1]
        let held = repeated.split(separator: "(").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        #expect(held >= 4 && repeated.contains("more times since it was last logged"), "\(repeated)")
        #expect(refusals().count == 2, "\(refusals())")
        #expect(await joiner.stop() == nil)
        await target.shutdown()
    }
}
