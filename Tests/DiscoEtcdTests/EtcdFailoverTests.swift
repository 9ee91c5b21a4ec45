import DiscoCore
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing
@testable import DiscoEtcd

/// A transport whose first matching request reaches etcd but whose answer is lost, as when etcd
/// commits a request and answers after the client's deadline (a slow disk, an etcd election) or
/// the connection drops after the request went out.
final class LostAnswerTransport: HTTPStreamExchanging {
    let inner = HTTPClient()
    private let matches: @Sendable (HTTPExchangeRequest) -> Bool
    private let remaining = Mutex(1)

    init(losing matches: @escaping @Sendable (HTTPExchangeRequest) -> Bool) {
        self.matches = matches
    }

    /// Whether the answer was lost yet.
    var lost: Bool { remaining.withLock { $0 == 0 } }

    func exchange(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPExchangeResponse {
        let response = try await inner.exchange(request, timeout: timeout)
        let lose = matches(request) && remaining.withLock { left -> Bool in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        if lose {
            throw DiscoveryError(.timeout, server: request.url, record: "test", detail: "injected: etcd answered after the deadline")
        }
        return response
    }

    func openStream(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPStreamedExchangeResponse {
        try await inner.openStream(request, timeout: timeout)
    }
}

/// The engine against a multi-member etcd whose answers get lost: a request that may have been
/// carried out is not sent again to another member.
@Suite(.serialized) struct EtcdFailoverTests {
    /// An append etcd committed but whose answer was lost must not be written again. Before the
    /// fix the gateway sent the same transaction to the next etcd member; its compare on `seq`
    /// failed (the first one had moved `seq`), so the engine took it for a lost race and
    /// appended the entries again at the next indexes: one proposal, two log entries, both
    /// applied, and the proposer told the second index.
    @Test func anAppendWhoseAnswerWasLostIsNotWrittenTwice() async throws {
        try await withEtcd(members: 2) { etcd in
            let key = freshDiscoKey()
            let keys = EtcdClusterKeys(discoKey: key)
            let transport = LostAnswerTransport { $0.isTxn(comparing: keys.seq) }
            let node = EtcdLogNode("1", key: key, etcd: etcd, transport: transport)
            try await node.stopping {
                try await node.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { node.log.status.isLeader }
                do throws(EtcdConsensusError) {
                    let index = try await node.log.propose(Array("once".utf8))
                    #expect(index == 1, "the proposal was answered with index \(index)")
                } catch {
                    #expect(error.code == .etcdUnavailable, "\(error.code): \(error.message)")
                }
                #expect(transport.lost, "no append answer was lost")
                let written = try await etcdClient(etcd.endpoints).range(keys.logPrefix).kvs
                #expect(written.map(\.key) == [keys.log(1)], "the entry is in etcd once")
            }
        }
    }
}
