import DiscoCore
import DiscoTestKit
import Synchronization
import Testing
@testable import DiscoEtcd

/// A re-read of etcd (resync) that etcd answered before this node's own write, but whose answer
/// the node takes in after it: the read says nothing about what was written after its revision
/// (the watch that follows it starts at the next revision and brings it).
@Suite(.serialized) struct EtcdResyncRaceTests {
    /// Before the fix, a node's first resync, answered before its `bootstrap()` and taken in
    /// after it, cleared the cluster revision `bootstrap()` had set and kept the configuration
    /// it had set: the node led a cluster it said was not initialized (the node's `hasState`
    /// false) until its watch delivered the bootstrap, as a full test run once saw
    /// (EtcdConsensusTests.threeNodesElectOneLeaderAndApplyTheSameGapFreeLog). Taken in once
    /// the node led, it also dropped the node's own election key: the leader said it was not.
    @Test(arguments: [false, true])
    func aResyncAnsweredBeforeBootstrapDoesNotForgetTheCluster(takenInOnceLeading: Bool) async throws {
        try await withEtcd { etcd in
            let key = freshDiscoKey()
            let keys = EtcdClusterKeys(discoKey: key)
            let transport = HookTransport()
            let readAnswered = Gate(), releaseRead = Gate(), watchOpening = Gate(), releaseWatch = Gate()
            let firstRead = Mutex(true)
            // Hold the first resync's answer (etcd's state before the bootstrap) until the test
            // has bootstrapped, then hold its watch so that only the resync's outcome is seen.
            transport.setAnswerHook { request in
                guard request.isRange(under: keys.root), firstRead.withLock({ first in defer { first = false }; return first }) else { return }
                readAnswered.release()
                await releaseRead.wait()
            }
            transport.setHook { request in
                guard request.isWatch(on: keys.root) else { return }
                watchOpening.release()
                await releaseWatch.wait()
            }
            let node = EtcdLogNode("1", key: key, etcd: etcd, transport: transport)
            try await node.stopping {
                try await waitUntil("the first resync's read to be answered") { readAnswered.isOpen }
                try await node.log.bootstrap(voters: ["1"])
                #expect(node.log.status.initialized)
                if takenInOnceLeading { try await waitUntil("node 1 to lead") { node.log.status.isLeader } }
                releaseRead.release()
                try await waitUntil("the resync to end (its watch opens)") { watchOpening.isOpen }
                let resynced = node.log.status
                #expect(resynced.initialized && resynced.config.voters == ["1"], "the resync forgot the cluster: \(resynced)")
                if takenInOnceLeading {
                    #expect(resynced.isLeader && resynced.leader == "1", "the resync forgot the node's election key: \(resynced)")
                } else {
                    try await waitUntil("node 1 to lead") { node.log.status.isLeader }
                    let leading = node.log.status
                    #expect(leading.initialized, "leading a cluster it says is not initialized: \(leading)")
                }
                releaseWatch.release()
                _ = try await node.log.propose(Array("first".utf8))
                try await waitUntil("node 1 to apply its entry") { node.appliedIndexes == [1] }
                #expect(node.log.status.initialized && node.log.status.isLeader)
            }
        }
    }

    /// A resync answered before the leader's own configuration change and taken in after it:
    /// before the fix it put the older configuration back until the watch delivered the change.
    @Test func aResyncAnsweredBeforeAConfigurationChangeDoesNotUndoIt() async throws {
        try await withEtcd { etcd in
            let key = freshDiscoKey()
            let keys = EtcdClusterKeys(discoKey: key)
            let transport = HookTransport()
            let breakWatch = Gate(), readAnswered = Gate(), releaseRead = Gate(), watchOpening = Gate(), releaseWatch = Gate()
            let opens = Mutex(0), holdRead = Mutex(false)
            // The first watch is held, then fails (the node reads etcd again); the second is held.
            transport.setHook { request in
                guard request.isWatch(on: keys.root) else { return }
                let count = opens.withLock { count in
                    count += 1
                    return count
                }
                if count == 1 {
                    await breakWatch.wait()
                    throw FaultyTransport.Injected()
                }
                watchOpening.release()
                await releaseWatch.wait()
            }
            transport.setAnswerHook { request in
                guard request.isRange(under: keys.root), holdRead.withLock({ hold in defer { hold = false }; return hold }) else { return }
                readAnswered.release()
                await releaseRead.wait()
            }
            let node = EtcdLogNode("1", key: key, etcd: etcd, transport: transport)
            try await node.stopping {
                try await waitUntil("the first resync to end") { opens.withLock { $0 } == 1 }
                try await node.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { node.log.status.isLeader }
                holdRead.withLock { $0 = true }
                breakWatch.release()
                try await waitUntil("the second resync's read to be answered") { readAnswered.isOpen }
                try await node.log.addLearner("2")
                let changed = EtcdMembershipConfig(voters: ["1"], learners: ["2"])
                #expect(node.log.status.config == changed)
                releaseRead.release()
                try await waitUntil("the second resync to end (its watch opens)") { watchOpening.isOpen }
                let resynced = node.log.status
                #expect(resynced.config == changed, "the resync put the older configuration back: \(resynced.config)")
                #expect(resynced.isLeader && resynced.initialized, "\(resynced)")
                releaseWatch.release()
            }
        }
    }
}
