import DiscoCore
import HotCold
import NodeRuntime
import Synchronization

// MARK: - NodeKeyValueSpace

/// The lease's key-value space in a node's replicated state: namespace `hot-cold`, reads from
/// what this node has applied, compare-and-set puts through ``Node/transact(_:)`` (the leader
/// proposes, a follower forwards), watches from ``Node/watchKeyValues(namespace:prefix:)``, and
/// the cluster view from the role's leadership stream, gossip's live members and the replicated
/// member list (the members whose record announces the `hot-cold` role: the others' candidacies
/// are left out).
struct NodeKeyValueSpace: LeaseKeyValueSpace {
    /// The namespace of every hot/cold entry.
    static let namespace = "hot-cold"
    /// How often the live members are read from gossip.
    static let livenessPeriod: Duration = .milliseconds(200)

    let context: RoleContext

    private func key(_ name: String) -> KVKey { KVKey(Self.namespace, name) }

    func waitUntilCaughtUp() async { await context.waitUntilCaughtUp() }

    func entry(_ name: String) -> LeaseKeyValueEntry? {
        context.node.keyValue(key(name)).map { LeaseKeyValueEntry(name: name, value: $0.value, revision: $0.revision) }
    }

    func put(_ name: String, _ value: [UInt8], ifRevision expected: UInt64) async -> LeaseKeyValueWrite {
        let key = key(name)
        do {
            switch try await context.node.transact(KVTransaction(conditions: [KVCondition(key, revision: expected)],
                                                                 operations: [.put(key, value)])) {
            case .committed(let revision, _): return .committed(revision: revision)
            case .conflict(_, _, let found): return .conflict(found: found)
            case .refused(let reason): return .unknown("the replicated state refused the lease entry: \(reason)")
            }
        } catch {
            switch error.code {
            case .unavailable: return .unavailable(error.message)
            case .unknown, .invalid, .failed: return .unknown(error.message)
            }
        }
    }

    func entries(prefix: String) -> [LeaseKeyValueEntry] {
        context.node.keyValues(namespace: Self.namespace, prefix: prefix).entries.map {
            LeaseKeyValueEntry(name: $0.key.name, value: $0.value, revision: $0.revision)
        }
    }

    func delete(_ name: String, ifRevision expected: UInt64) async -> LeaseKeyValueWrite {
        let key = key(name)
        do {
            switch try await context.node.transact(KVTransaction(conditions: [KVCondition(key, revision: expected)],
                                                                 operations: [.delete(key)])) {
            case .committed(let revision, _): return .committed(revision: revision)
            case .conflict(_, _, let found): return .conflict(found: found)
            case .refused(let reason): return .unknown("the replicated state refused the deletion: \(reason)")
            }
        } catch {
            switch error.code {
            case .unavailable: return .unavailable(error.message)
            case .unknown, .invalid, .failed: return .unknown(error.message)
            }
        }
    }

    func watch(prefix: String, to deliver: @escaping @Sendable (LeaseKeyValueEvent) -> Void) async {
        let watch = context.node.watchKeyValues(namespace: Self.namespace, prefix: prefix)
        var translator = WatchTranslator()
        for event in translator.start(watch.entries) { deliver(event) }
        for await change in watch.changes {
            for event in translator.events(for: change) { deliver(event) }
        }
    }

    func watchCluster(to deliver: @escaping @Sendable (LeaseClusterView) -> Void) async {
        let view = ClusterViewBox(LeaseClusterView(leader: .none, alive: [context.nodeID]))
        let context = context
        await withTaskGroup(of: Void.self) { sources in
            sources.addTask {
                for await leadership in context.leadershipChanges() {
                    let next = view.view.withLock { view in
                        view.leader = LeaseStoreLeader(leader: leadership.leader, isSelf: leadership.isLocal)
                        return view
                    }
                    deliver(next)
                }
            }
            sources.addTask {
                for await members in context.membershipChanges() {
                    // Only members whose record announces the role run a replica: a node restarted
                    // without -hot-cold left a candidacy that must not be granted (nor taken for
                    // a replica the Raft leader runs, which would stop the others granting).
                    let ids = Set(members.filter { $0.roles.contains(HotColdRole.roleName) }.map(\.id))
                    let changed = view.view.withLock { view -> LeaseClusterView? in
                        guard view.members != ids else { return nil }
                        view.members = ids
                        return view
                    }
                    if let changed { deliver(changed) }
                }
            }
            sources.addTask {
                while !Task.isCancelled {
                    let alive = await context.liveMembers()
                    let changed = view.view.withLock { view -> LeaseClusterView? in
                        guard view.alive != alive else { return nil }
                        view.alive = alive
                        return view
                    }
                    if let changed { deliver(changed) }
                    do { try await Task.sleep(for: Self.livenessPeriod) } catch { return }
                }
            }
        }
    }

    func waitUntilApplied(_ revision: UInt64, timeout: Duration) async -> Bool {
        await context.node.waitUntilApplied(revision, timeout: timeout)
    }
}

// MARK: - WatchTranslator

/// Turns a key-value watch into the lease's events. A reset (a snapshot was installed) replaces
/// every watched entry: those it no longer holds are reported deleted, or a candidacy withdrawn
/// while this node was behind would stay a candidate in its view (and be granted the lease
/// should it lead).
struct WatchTranslator {
    /// The names delivered as present.
    private(set) var present: Set<String> = []

    /// The watch's first read.
    mutating func start(_ entries: [KVEntry]) -> [LeaseKeyValueEvent] {
        entries.map { entry in
            present.insert(entry.key.name)
            return .put(LeaseKeyValueEntry(name: entry.key.name, value: entry.value, revision: entry.revision))
        }
    }

    /// The events for one change of the watch.
    mutating func events(for change: KVWatchEvent) -> [LeaseKeyValueEvent] {
        switch change {
        case .changed(let changes):
            return changes.map { change in
                if let value = change.value {
                    present.insert(change.key.name)
                    return .put(LeaseKeyValueEntry(name: change.key.name, value: value, revision: change.revision))
                }
                present.remove(change.key.name)
                return .deleted(name: change.key.name, revision: change.revision)
            }
        case .reset(let entries, let revision):
            let names = Set(entries.map(\.key.name))
            let gone = present.subtracting(names).sorted().map { LeaseKeyValueEvent.deleted(name: $0, revision: revision) }
            present = []
            return gone + start(entries)
        }
    }
}

/// The cluster view both sources of ``NodeKeyValueSpace/watchCluster(to:)`` update.
private final class ClusterViewBox: Sendable {
    let view: Mutex<LeaseClusterView>

    init(_ view: LeaseClusterView) { self.view = Mutex(view) }
}
