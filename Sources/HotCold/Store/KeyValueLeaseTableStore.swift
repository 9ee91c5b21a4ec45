import DiscoCore
import LeaseCore
import Synchronization

// MARK: - KeyValueLeaseTableStore

/// The lease table kept in a key-value space (``LeaseKeyValueSpace``): one entry per group holds
/// its ``LeaseState`` as a ``LeaseRecord``, one entry per replica its candidacy.
///
/// A command is applied by compare-and-set: read the group's entry as this node has applied it
/// (revision `r`), compute the next state with `LeaseState.applying(_:index:)` at index `r + 1`,
/// and put it only if the entry is still at `r`. A conflict means another change committed first:
/// wait until this node has applied it and decide again, so every command is decided on the
/// latest state, in the one order the key's revisions give. The state keeps its own
/// `last_change` (set to `r + 1` by grants, renewals and releases), so a move — which changes
/// only the move target — does not disturb a grant's compare-and-set or the leader's ttl.
///
/// A node withdraws its candidacies for other groups when it starts (it moved to another group),
/// and the candidacies of nodes that are not members running a replica (removed from the cluster,
/// or restarted without the role: ``LeaseClusterView/members``) are left out.
///
/// Names: `lease/<group>` and `candidate/<length of group>/<group>/<node>` (the length keeps a
/// group whose name contains `/` apart from another group's candidates).
public struct KeyValueLeaseTableStore: LeaseTableStore {
    public let node: NodeID
    public let space: any LeaseKeyValueSpace
    let logger: Logger

    /// How long to wait before trying again after the space was unavailable.
    static let retryPause: Duration = .milliseconds(20)

    public init(node: NodeID, space: any LeaseKeyValueSpace, logger: Logger) {
        self.node = node
        self.space = space
        self.logger = logger
    }

    // MARK: Names

    /// The entry holding `group`'s lease.
    public static func leaseName(_ group: LeaseGroup) -> String { "lease/\(group.rawValue)" }

    /// The prefix of `group`'s candidacies.
    public static func candidatePrefix(_ group: LeaseGroup) -> String { "candidate/\(group.rawValue.utf8.count)/\(group.rawValue)/" }

    // MARK: LeaseTableStore

    public func propose(_ command: LeaseCommand, timeout: Duration) async -> LeaseProposalOutcome {
        let deadline = ContinuousClock.now + timeout
        let name = Self.leaseName(command.group)
        while true {
            let entry = space.entry(name)
            let revision = entry?.revision ?? 0
            let current: LeaseState
            do {
                current = try entry.map { try LeaseRecord.decodeState($0.value) } ?? LeaseState()
            } catch {
                return .unknown(reason: "the stored lease of \(command.group) cannot be read: \(error)")
            }
            let (next, result) = current.applying(command, index: revision + 1)
            guard result.changedState else { return .applied(result) }
            switch await space.put(name, LeaseRecord.encode(next), ifRevision: revision) {
            case .committed(let committed):
                // Answer once this node has applied it, so the holder's view includes it.
                _ = await space.waitUntilApplied(committed, timeout: max(deadline - .now, .milliseconds(1)))
                return .applied(result)
            case .conflict(let found):
                guard await space.waitUntilApplied(found, timeout: deadline - .now) else {
                    return .unknown(reason: "the lease of \(command.group) changed at revision \(found), not yet applied here")
                }
            case .unavailable(let reason):
                guard ContinuousClock.now + Self.retryPause < deadline else { return .unknown(reason: reason) }
                do { try await Task.sleep(for: Self.retryPause) } catch { return .unknown(reason: "cancelled") }
            case .unknown(let reason):
                return .unknown(reason: reason)
            }
        }
    }

    public func announce(_ candidate: LeaseCandidate, in group: LeaseGroup) async {
        let name = Self.candidatePrefix(group) + candidate.node.rawValue
        let value = LeaseRecord.encode(candidate)
        // A restarted node may not have applied yet what its previous process announced last
        // (its final write committed on the leader only): an older value read before then that
        // equals this one would make it skip the write.
        await space.waitUntilCaughtUp()
        while !Task.isCancelled {
            let current = space.entry(name)
            if current?.value == value { return }
            switch await space.put(name, value, ifRevision: current?.revision ?? 0) {
            case .committed(let revision):
                // A follower's write commits on the leader before this node applies it. Return
                // only once it is applied here: the next announcement compares with what this
                // node has applied, and an older value equal to it (healthy, then unhealthy,
                // then healthy again) would make it skip the write and leave the replica
                // unhealthy in the replicated state, never granted the lease.
                while !Task.isCancelled, await !space.waitUntilApplied(revision, timeout: .seconds(1)) {}
                return
            case .conflict(let found): _ = await space.waitUntilApplied(found, timeout: .seconds(1))
            case .unavailable, .unknown:
                do { try await Task.sleep(for: Self.retryPause) } catch { return }
            }
        }
    }

    public func withdrawCandidacies(exceptIn group: LeaseGroup) async {
        // A restarted node applies the candidacies it wrote before only once it has replayed its
        // log: looking earlier would find none and withdraw nothing, for good.
        await space.waitUntilCaughtUp()
        let keep = Self.candidatePrefix(group)
        for entry in space.entries(prefix: "candidate/") where !entry.name.hasPrefix(keep) && Self.isCandidacy(entry.name, of: node) {
            var revision = entry.revision
            var attempts = 0
            while !Task.isCancelled, attempts < 100 {
                attempts += 1
                switch await space.delete(entry.name, ifRevision: revision) {
                case .committed:
                    logger.info("withdrew a candidacy for a group this node no longer serves", metadata: ["entry": "\(entry.name)"])
                case .conflict(let found):
                    guard found != 0 else { break }  // already gone
                    revision = found
                    continue
                case .unavailable, .unknown:
                    do { try await Task.sleep(for: Self.retryPause) } catch { return }
                    if space.entry(entry.name) != nil { continue }
                }
                break
            }
        }
    }

    /// Whether `name` is a candidacy entry (`candidate/<length>/<group>/<node>`) of `node`.
    static func isCandidacy(_ name: String, of node: NodeID) -> Bool {
        let parts = name.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "candidate", let length = Int(parts[1]), length >= 0 else { return false }
        let rest = parts[2].utf8
        guard rest.count > length, rest.dropFirst(length).first == UInt8(ascii: "/") else { return false }
        return String(decoding: rest.dropFirst(length + 1), as: UTF8.self) == node.rawValue
    }

    public func deliverEvents(for group: LeaseGroup, to deliver: @escaping @Sendable (LeaseStoreEvent) -> Void) async {
        let view = CandidateView()
        let prefix = Self.candidatePrefix(group)
        let leaseName = Self.leaseName(group)
        let logger = logger
        if space.entry(leaseName) == nil { deliver(.applied(LeaseState(), at: .now)) }
        await withTaskGroup(of: Void.self) { sources in
            sources.addTask { [space] in
                await space.watch(prefix: leaseName) { event in
                    guard case .put(let entry) = event, entry.name == leaseName else { return }
                    do {
                        deliver(.applied(try LeaseRecord.decodeState(entry.value), at: .now))
                    } catch {
                        logger.error("ignoring an unreadable lease record", metadata: ["group": "\(group)", "error": "\(error)"])
                    }
                }
            }
            sources.addTask { [space] in
                await space.watch(prefix: prefix) { event in
                    switch event {
                    case .put(let entry):
                        guard let node = NodeID(String(entry.name.dropFirst(prefix.count))) else { return }
                        do {
                            let candidate = try LeaseRecord.decodeCandidate(entry.value, node: node)
                            deliver(.candidates(view.update { $0.announced[node] = candidate }))
                        } catch {
                            logger.error("ignoring an unreadable candidacy", metadata: ["group": "\(group)", "error": "\(error)"])
                        }
                    case .deleted(let name, _):
                        guard let node = NodeID(String(name.dropFirst(prefix.count))) else { return }
                        deliver(.candidates(view.update { $0.announced[node] = nil }))
                    }
                }
            }
            sources.addTask { [space] in
                await space.watchCluster { cluster in
                    let leaderChanged = view.update(leader: cluster.leader)
                    deliver(.candidates(view.update {
                        $0.alive = cluster.alive
                        $0.members = cluster.members
                    }))
                    if leaderChanged { deliver(.leader(cluster.leader)) }
                }
            }
        }
    }
}

// MARK: - CandidateView

/// What the events of one group combine: announced candidacies and who is alive.
private final class CandidateView: Sendable {
    struct State {
        var announced: [NodeID: LeaseCandidate] = [:]
        var alive: Set<NodeID> = []
        /// The members that run a replica (nil: unknown): other nodes' candidacies are left out.
        var members: Set<NodeID>?
        var leader: LeaseStoreLeader?
    }

    private let state = Mutex(State())

    /// Applies `change` and returns the candidates as the grantor should see them.
    func update(_ change: (inout State) -> Void) -> [LeaseCandidate] {
        state.withLock { state in
            change(&state)
            let current = state.announced.values.filter { state.members?.contains($0.node) ?? true }
            return current.sorted { $0.node < $1.node }.map { candidate in
                var seen = candidate
                seen.inTouch = state.alive.contains(candidate.node)
                return seen
            }
        }
    }

    /// Records the leader; true when it differs from the last one.
    func update(leader: LeaseStoreLeader) -> Bool {
        state.withLock { state in
            defer { state.leader = leader }
            return state.leader != leader
        }
    }
}
