import DiscoCore
import DiscoRaft

// MARK: - RaftInvariantChecker

/// Checks Raft's safety properties across all nodes of a simulation as effects happen:
/// election safety, log matching, leader completeness, state-machine safety, durability of
/// acknowledged writes, ReadIndex linearizability, no phantom voters (see
/// ``RaftInvariantChecker/configurationInEffect(_:at:name:)``) and honest removal notices.
struct RaftInvariantChecker {
    private struct EntryKey: Hashable { let index: UInt64; let term: UInt64 }
    private struct EntryIdentity { let contentHash: UInt64; let prevTerm: UInt64? }

    /// Which node led each term.
    private var leaders: [UInt64: Int] = [:]
    /// What each (index, term) pair contains and follows.
    private var identities: [EntryKey: EntryIdentity] = [:]
    /// The one global sequence of applied entries: `committed[i - 1]` is index i's (term, hash),
    /// plus the lowest term in which any node applied it: the entry was committed in that term or
    /// earlier, so every leader of a later term must hold it.
    private(set) var committed: [(term: UInt64, contentHash: UInt64, commitTerm: UInt64)] = []
    /// State-machine hash after applying index i: `stateHashes[i - 1]`.
    private var stateHashes: [UInt64] = []
    private(set) var violations: [String] = []
    /// Nodes that ever acknowledged an entry (founding voters hold the first one).
    private(set) var acknowledgers: Set<NodeID> = []
    /// Configuration entries applied anywhere, in index order (the first one is the bootstrap's).
    private var committedConfigs: [(index: UInt64, config: ClusterConfig)] = []
    /// Removals reported before their configuration entry was applied anywhere: checked then.
    private var pendingRemovalClaims: [(node: NodeID, name: String, configIndex: UInt64)] = []

    mutating func fail(_ text: String) { violations.append(text) }

    static func contentHash(_ entry: Entry) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(entry.kind.rawValue)
        for byte in entry.data { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }

    static func nextStateHash(_ previous: UInt64, _ entry: Entry) -> UInt64 {
        var hash = previous ^ contentHash(entry) ^ (entry.index &* 0x9E37_79B9_7F4A_7C15)
        hash = (hash ^ (hash >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        return hash ^ (hash >> 29)
    }

    // MARK: Checks

    /// Election safety and leader completeness, when `node` becomes leader of `term`.
    mutating func leaderElected(node: Int, name: String, term: UInt64, core: RaftNode) {
        if let other = leaders[term], other != node {
            fail("election safety: two leaders in term \(term): node #\(other) and \(name)")
        }
        leaders[term] = node
        let start = core.snapshotIndex + 1
        guard start <= UInt64(committed.count) else { return }
        for index in start...UInt64(committed.count)
        where committed[Int(index - 1)].commitTerm < term && core.term(at: index) != committed[Int(index - 1)].term {
            fail("leader completeness: \(name) leads term \(term) without committed entry \(index)@\(committed[Int(index - 1)].term) (has term \(core.term(at: index).map(String.init) ?? "none"))")
            return
        }
    }

    /// Log matching: the same (index, term) always holds the same entry after the same term.
    mutating func appended(_ entries: [Entry], name: String, core: RaftNode) {
        for entry in entries {
            let key = EntryKey(index: entry.index, term: entry.term)
            let identity = EntryIdentity(contentHash: Self.contentHash(entry), prevTerm: core.term(at: entry.index - 1))
            if let known = identities[key] {
                if known.contentHash != identity.contentHash {
                    fail("log matching: \(name) holds a different entry at \(entry.index)@\(entry.term)")
                } else if let a = known.prevTerm, let b = identity.prevTerm, a != b {
                    fail("log matching: \(name) has entry \(entry.index)@\(entry.term) after term \(b), another node after term \(a)")
                }
            } else {
                identities[key] = identity
            }
        }
    }

    /// State-machine safety: every node applies the same entry at each index.
    mutating func applied(_ entry: Entry, name: String, nodeTerm: UInt64, previousHash: UInt64) -> UInt64 {
        let newHash = Self.nextStateHash(previousHash, entry)
        let position = Int(entry.index) - 1
        if position < committed.count {
            if committed[position].term != entry.term || committed[position].contentHash != Self.contentHash(entry) {
                fail("state-machine safety: \(name) applied \(entry.index)@\(entry.term), but \(entry.index)@\(committed[position].term) was applied elsewhere")
            } else if stateHashes[position] != newHash {
                fail("state-machine safety: \(name)'s state after \(entry.index) differs from other nodes'")
            }
            committed[position].commitTerm = min(committed[position].commitTerm, nodeTerm)
        } else if position == committed.count {
            committed.append((entry.term, Self.contentHash(entry), nodeTerm))
            stateHashes.append(newHash)
            if entry.kind == .config, let config = try? RaftCodec.decodeConfig(entry.data) {
                committedConfigs.append((entry.index, config))
            }
            if !pendingRemovalClaims.isEmpty {
                let due = pendingRemovalClaims.filter { $0.configIndex <= entry.index }
                pendingRemovalClaims.removeAll { $0.configIndex <= entry.index }
                for claim in due { removalReported(node: claim.node, name: claim.name, configIndex: claim.configIndex) }
            }
        } else {
            fail("state-machine safety: \(name) applied \(entry.index) before anyone applied \(committed.count + 1)")
        }
        return newHash
    }

    /// A snapshot must carry exactly the state other nodes reached at its index.
    mutating func restored(index: UInt64, stateHash: UInt64, name: String) {
        guard index > 0 else { return }
        let position = Int(index) - 1
        if position < stateHashes.count, stateHashes[position] != stateHash {
            fail("state-machine safety: \(name) installed a snapshot at \(index) whose state differs from the applied sequence")
        }
    }

    /// A read served at `index` must include every write applied anywhere before it was asked.
    mutating func readServed(index: UInt64, appliedWhenAsked: UInt64, name: String) {
        if index < appliedWhenAsked {
            fail("linearizable read: \(name) answered ReadIndex \(index) but \(appliedWhenAsked) was already applied when asked")
        }
    }

    // MARK: Membership

    /// Records that `node` acknowledged an entry (it answered an append with a match index ≥ 1,
    /// or it holds a bootstrap configuration).
    mutating func acknowledged(_ node: NodeID) { acknowledgers.insert(node) }

    /// No phantom voters: in every configuration in effect on any node, the voters that have
    /// ever acknowledged an entry must be at least a quorum of it. A voter that never answered
    /// (a joiner that died before catching up) only takes fault tolerance away; enough of them
    /// and the group can never commit again.
    mutating func configurationInEffect(_ config: ClusterConfig, at index: UInt64, name: String) {
        guard !config.voters.isEmpty else { return }
        let proven = config.voters.filter { acknowledgers.contains($0) }
        if proven.count < config.quorum {
            let phantoms = config.voters.filter { !acknowledgers.contains($0) }
            fail("phantom voters: \(name)'s configuration at index \(index) has voters \(config.voters.map(\.rawValue)), of which \(phantoms.map(\.rawValue)) never acknowledged an entry; a quorum needs \(config.quorum)")
        }
    }

    /// Honest removal notices: a node that believes it was removed by the configuration in force
    /// at `configIndex` (a configuration entry, or a snapshot's position) must be left out of the
    /// configuration committed there.
    mutating func removalReported(node: NodeID, name: String, configIndex: UInt64) {
        guard configIndex <= UInt64(committed.count) else {
            pendingRemovalClaims.append((node, name, configIndex))
            return
        }
        guard let config = committedConfigs.last(where: { $0.index <= configIndex })?.config else {
            fail("removal: \(name) believes it was removed at index \(configIndex), before any configuration was committed")
            return
        }
        if config.contains(node) {
            fail("removal: \(name) believes it was removed at index \(configIndex), but the configuration committed there has it: \(config)")
        }
    }

    /// A node that knows it was removed must not campaign.
    mutating func removedNodeCampaigned(name: String, message: Message) {
        fail("removal: \(name) knows it was removed but sent \(message)")
    }

    /// Global count of applied entries.
    var appliedCount: UInt64 { UInt64(committed.count) }
}
