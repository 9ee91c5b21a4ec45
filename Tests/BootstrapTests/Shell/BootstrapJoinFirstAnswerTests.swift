import DiscoCore
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing
@testable import Bootstrap

/// `POST /join` to several targets at once: the first definitive answer decides.
@Suite struct BootstrapJoinFirstAnswerTests {
    let me = BootstrapPeer(id: "late", raftAddress: "127.0.0.1:29001", apiAddress: "127.0.0.1:29000")

    func address(_ server: HTTPServer) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: server.localAddress.port) }

    /// No definitive answer: one failure per target, in the order of the targets, each target
    /// asked once, never more than `width` at a time.
    @Test func withoutADefinitiveAnswerEveryTargetFailsInOrderAndAtMostWidthAreAsked() async throws {
        let open = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        var servers: [HTTPServer] = []
        for _ in 0..<5 {
            servers.append(try await HTTPServer.start { _ in
                let now = open.add(1, ordering: .relaxed).newValue
                most.max(now, ordering: .relaxed)
                open.subtract(1, ordering: .relaxed)
                return HTTPResponse(status: 503, bytes: BootstrapWire.errorBody("no leader yet"))
            })
        }
        let targets = servers.map(address)
        let result = await BootstrapClient().joinFirstAnswer(targets: targets, request: JoinRequest(node: me, cluster: "disco", epoch: 4),
                                                             timeout: .seconds(60), width: 2)
        guard case .failed(let failures) = result else {
            Issue.record("expected every target to fail, got \(result)")
            return
        }
        #expect(failures.map(\.target) == targets.map(\.description))
        #expect(failures.allSatisfy { $0.code == .noLeader })
        let mostAtOnce = most.load(ordering: .relaxed)
        #expect(mostAtOnce <= 2)
        for server in servers { await server.shutdown(gracePeriod: .seconds(1)) }
    }

    /// A refusal from one target decides even when another would accept later: whichever
    /// definitive answer comes first wins, and the rest are cancelled.
    @Test func theFirstDefinitiveAnswerDecides() async throws {
        let release = Atomic<Bool>(false)
        let slow = try await HTTPServer.start { _ in
            try? await waitUntil("released", timeout: .seconds(600)) { release.load(ordering: .relaxed) }
            return HTTPResponse(status: 503, bytes: BootstrapWire.errorBody("no leader yet"))
        }
        let refusing = try await HTTPServer.start { _ in HTTPResponse(status: 409, bytes: BootstrapWire.errorBody("other cluster")) }
        let result = await BootstrapClient().joinFirstAnswer(targets: [address(slow), address(refusing)],
                                                             request: JoinRequest(node: me, cluster: "disco", epoch: 4), timeout: .seconds(600))
        guard case .refused(let error) = result else {
            Issue.record("expected the refusal, got \(result)")
            return
        }
        let refuser = address(refusing).description
        let released = release.load(ordering: .relaxed)
        #expect(error.code == .refused && error.target == refuser)
        #expect(!released, "decided while the slow target still held its question")
        release.store(true, ordering: .relaxed)
        await slow.shutdown(gracePeriod: .seconds(1))
        await refusing.shutdown(gracePeriod: .seconds(1))
    }
}
