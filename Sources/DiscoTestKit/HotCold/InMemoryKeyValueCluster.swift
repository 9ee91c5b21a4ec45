import DiscoCore
import HotCold
import LeaseCore
import Synchronization

// MARK: - InMemoryKeyValueCluster

/// A replicated key-value space for tests, shaped as the node's (and etcd's): one map with a
/// global revision, compare-and-set puts applied in one order after `commitDelay`, watches by
/// prefix, a designated leader and per-node faults. A cut-off node keeps reading the entries it
/// had, its puts find no leader, it hears nothing until it is let back and catches up.
///
/// Each node's ``LeaseKeyValueSpace`` comes from ``space(for:)``; ``KeyValueLeaseTableStore``
/// over it is the lease as a node will keep it in its replicated state.
public final class InMemoryKeyValueCluster: Sendable {
    struct Watcher {
        let node: NodeID
        let prefix: String
        let continuation: AsyncStream<LeaseKeyValueEvent>.Continuation
    }

    struct Member {
        var reachable = true
        var alive = true
        /// Removed from the cluster's member list (it may still be alive).
        var removed = false
        /// The entries a cut-off node still sees.
        var frozen: [String: LeaseKeyValueEntry]?
    }

    struct State {
        var entries: [String: LeaseKeyValueEntry] = [:]
        var revision: UInt64 = 0
        var leader: NodeID?
        var members: [NodeID: Member] = [:]
        var watchers: [Int: Watcher] = [:]
        var clusterWatchers: [Int: (node: NodeID, continuation: AsyncStream<LeaseClusterView>.Continuation)] = [:]
        var nextWatcher = 0
        var commitDelay: Duration
        /// Every committed put, in order.
        var history: [LeaseKeyValueEntry] = []
    }

    private let state: Mutex<State>

    public init(leader: NodeID?, commitDelay: Duration = .milliseconds(2)) {
        state = Mutex(State(leader: leader, commitDelay: commitDelay))
    }

    /// The space as `node` sees it.
    public func space(for node: NodeID) -> Space {
        state.withLock { state in
            if state.members[node] == nil { state.members[node] = Member() }
        }
        return Space(cluster: self, node: node)
    }

    // MARK: Observing

    /// Every committed put, in order.
    public var history: [LeaseKeyValueEntry] { state.withLock { $0.history } }

    /// The current entry under `name`.
    public func entry(_ name: String) -> LeaseKeyValueEntry? { state.withLock { $0.entries[name] } }

    // MARK: Faults

    /// Makes `node` the leader (nil: none), telling every reachable node.
    public func setLeader(_ node: NodeID?) {
        state.withLock { state in
            state.leader = node
            Self.publishCluster(state)
        }
    }

    /// Cuts `node` off (false) or lets it back (true), where it catches up at once.
    public func setReachable(_ node: NodeID, _ reachable: Bool) {
        state.withLock { state in
            var member = state.members[node] ?? Member()
            member.reachable = reachable
            member.frozen = reachable ? nil : state.entries
            state.members[node] = member
            if reachable {
                for watcher in state.watchers.values where watcher.node == node {
                    for entry in state.entries.values.sorted(by: { $0.revision < $1.revision }) where entry.name.hasPrefix(watcher.prefix) {
                        watcher.continuation.yield(.put(entry))
                    }
                }
            }
            Self.publishCluster(state)
        }
    }

    /// Marks `node` dead or alive again (gossip's view).
    public func setAlive(_ node: NodeID, _ alive: Bool) {
        state.withLock { state in
            state.members[node, default: Member()].alive = alive
            Self.publishCluster(state)
        }
    }

    /// Removes `node` from the cluster's member list (true) or adds it back; gossip may still
    /// show it alive.
    public func setRemoved(_ node: NodeID, _ removed: Bool) {
        state.withLock { state in
            state.members[node, default: Member()].removed = removed
            Self.publishCluster(state)
        }
    }

    // MARK: What the spaces do

    func entry(_ name: String, seenBy node: NodeID) -> LeaseKeyValueEntry? {
        state.withLock { state in
            if let frozen = state.members[node]?.frozen { return frozen[name] }
            return state.entries[name]
        }
    }

    func put(_ name: String, _ value: [UInt8], ifRevision expected: UInt64, from node: NodeID) async -> LeaseKeyValueWrite {
        let delay = state.withLock { $0.commitDelay }
        try? await Task.sleep(for: delay)
        return state.withLock { state in
            guard let leader = state.leader, state.members[node]?.reachable ?? true, state.members[node]?.alive ?? true,
                  state.members[leader]?.reachable ?? true else {
                return .unavailable("no leader reachable from \(node)")
            }
            let found = state.entries[name]?.revision ?? 0
            guard found == expected else { return .conflict(found: found) }
            state.revision += 1
            let entry = LeaseKeyValueEntry(name: name, value: value, revision: state.revision)
            state.entries[name] = entry
            state.history.append(entry)
            for watcher in state.watchers.values
            where name.hasPrefix(watcher.prefix) && state.members[watcher.node]?.reachable ?? true {
                watcher.continuation.yield(.put(entry))
            }
            return .committed(revision: state.revision)
        }
    }

    func entries(prefix: String, seenBy node: NodeID) -> [LeaseKeyValueEntry] {
        state.withLock { state in
            (state.members[node]?.frozen ?? state.entries).values.filter { $0.name.hasPrefix(prefix) }.sorted { $0.revision < $1.revision }
        }
    }

    func delete(_ name: String, ifRevision expected: UInt64, from node: NodeID) async -> LeaseKeyValueWrite {
        let delay = state.withLock { $0.commitDelay }
        try? await Task.sleep(for: delay)
        return state.withLock { state in
            guard state.leader != nil, state.members[node]?.reachable ?? true, state.members[node]?.alive ?? true else {
                return .unavailable("no leader reachable from \(node)")
            }
            let found = state.entries[name]?.revision ?? 0
            guard found == expected, found != 0 else { return .conflict(found: found) }
            state.revision += 1
            state.entries[name] = nil
            for watcher in state.watchers.values
            where name.hasPrefix(watcher.prefix) && state.members[watcher.node]?.reachable ?? true {
                watcher.continuation.yield(.deleted(name: name, revision: state.revision))
            }
            return .committed(revision: state.revision)
        }
    }

    func watch(prefix: String, node: NodeID, deliver: @escaping @Sendable (LeaseKeyValueEvent) -> Void) async {
        let (stream, continuation) = AsyncStream<LeaseKeyValueEvent>.makeStream()
        let id = state.withLock { state in
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = Watcher(node: node, prefix: prefix, continuation: continuation)
            let visible = state.members[node]?.frozen ?? state.entries
            for entry in visible.values.sorted(by: { $0.revision < $1.revision }) where entry.name.hasPrefix(prefix) {
                continuation.yield(.put(entry))
            }
            return id
        }
        for await event in stream { deliver(event) }
        _ = state.withLock { $0.watchers.removeValue(forKey: id) }
    }

    func watchCluster(node: NodeID, deliver: @escaping @Sendable (LeaseClusterView) -> Void) async {
        let (stream, continuation) = AsyncStream<LeaseClusterView>.makeStream()
        let id = state.withLock { state in
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.clusterWatchers[id] = (node, continuation)
            continuation.yield(Self.view(state, seenBy: node))
            return id
        }
        for await view in stream { deliver(view) }
        _ = state.withLock { $0.clusterWatchers.removeValue(forKey: id) }
    }

    func waitUntilApplied(_ revision: UInt64, node: NodeID, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            let applied = state.withLock { state in
                state.members[node]?.frozen == nil && state.revision >= revision
            }
            if applied { return true }
            guard ContinuousClock.now < deadline else { return false }
            // A cut-off node catches up only when let back: look again shortly.
            try? await Task.sleep(for: .milliseconds(5))
            if Task.isCancelled { return false }
        }
    }

    // MARK: Helpers (under the lock)

    private static func view(_ state: State, seenBy node: NodeID) -> LeaseClusterView {
        let alive = state.members.filter { $0.value.alive && $0.value.reachable }.map(\.key)
        let members = state.members.filter { !$0.value.removed }.map(\.key)
        return LeaseClusterView(leader: LeaseStoreLeader(leader: state.leader, isSelf: state.leader == node), alive: Set(alive),
                                members: Set(members))
    }

    private static func publishCluster(_ state: State) {
        for watcher in state.clusterWatchers.values where state.members[watcher.node]?.reachable ?? true {
            watcher.continuation.yield(view(state, seenBy: watcher.node))
        }
    }

    // MARK: - Space

    /// One node's view of the cluster's key-value space.
    public struct Space: LeaseKeyValueSpace {
        public let cluster: InMemoryKeyValueCluster
        public let node: NodeID

        public func entry(_ name: String) -> LeaseKeyValueEntry? { cluster.entry(name, seenBy: node) }

        public func put(_ name: String, _ value: [UInt8], ifRevision expected: UInt64) async -> LeaseKeyValueWrite {
            await cluster.put(name, value, ifRevision: expected, from: node)
        }

        public func entries(prefix: String) -> [LeaseKeyValueEntry] { cluster.entries(prefix: prefix, seenBy: node) }

        public func delete(_ name: String, ifRevision expected: UInt64) async -> LeaseKeyValueWrite {
            await cluster.delete(name, ifRevision: expected, from: node)
        }

        public func watch(prefix: String, to deliver: @escaping @Sendable (LeaseKeyValueEvent) -> Void) async {
            await cluster.watch(prefix: prefix, node: node, deliver: deliver)
        }

        public func watchCluster(to deliver: @escaping @Sendable (LeaseClusterView) -> Void) async {
            await cluster.watchCluster(node: node, deliver: deliver)
        }

        public func waitUntilApplied(_ revision: UInt64, timeout: Duration) async -> Bool {
            await cluster.waitUntilApplied(revision, node: node, timeout: timeout)
        }
    }
}
