import DiscoRaft

// MARK: - RaftInvariantChecker

/// Checks Raft's safety properties across all nodes of a simulation as effects happen:
/// election safety, log matching, leader completeness, state-machine safety, durability of
/// acknowledged writes, and ReadIndex linearizability.
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

    /// Global count of applied entries.
    var appliedCount: UInt64 { UInt64(committed.count) }
}
