import DiscoCore
import Synchronization

// MARK: - AddressBook

/// Where each node is now, by ID: its advertised Raft address and HTTP API address.
///
/// Raft knows peers only by ID; this book answers "where is node 3?" from everything the node
/// hears: the replicated membership, join and notify requests, bootstrap proposals and SWIM
/// gossip. What may move a known node is the point: an address from a trusted source (the
/// replicated membership, a bootstrap proposal, a join or notify that proved it comes from the
/// node) is replaced only by another trusted one; unproven observations (a plain notify or join,
/// gossip) only fill in nodes the book does not know yet, so nobody can redirect Raft's traffic for
/// a member by naming its ID. A cluster whose nodes all come back on new addresses re-forms from
/// their proven notifies. A description carrying an older generation than the entry's (a request
/// the node sent before its latest restart, delivered late) never moves it either.
public final class AddressBook: Sendable {
    /// One node's addresses.
    public struct Entry: Hashable, Sendable {
        public var raftAddress: PeerAddress
        public var apiAddress: PeerAddress
        public var voter: Bool
        /// SHA-256 of the node's key, when known (empty otherwise).
        public var keyHash: [UInt8]
        /// Where the addresses were last learned (for /status and logs).
        public var source: Source
        /// The node's generation that described these addresses (0 when unknown).
        public var generation: UInt64 = 0
    }

    public enum Source: String, Sendable, Hashable {
        case local, replicated, proven, proposal, notify, join, gossip

        /// Whether addresses from this source may replace those of a known node: the replicated
        /// state, a bootstrap proposal, a request that proved it came from the node, or this
        /// node itself.
        public var isTrusted: Bool {
            switch self {
            case .local, .replicated, .proven, .proposal: true
            case .notify, .join, .gossip: false
            }
        }
    }

    private let entries: Mutex<[NodeID: Entry]>
    /// The roles each node announced (at join, in formation, in the replicated record).
    private let announcedRoles = Mutex<[NodeID: [String]]>([:])
    public let localID: NodeID

    public init(local id: NodeID, raftAddress: PeerAddress, apiAddress: PeerAddress, voter: Bool, keyHash: [UInt8] = [],
                generation: UInt64 = 0) {
        localID = id
        entries = Mutex([id: Entry(raftAddress: raftAddress, apiAddress: apiAddress, voter: voter, keyHash: keyHash, source: .local,
                                   generation: generation)])
    }

    /// Records what was just heard about `id`. Returns true when the addresses changed. An
    /// unproven `source` never moves a node known from a trusted one, and a description with a
    /// known `generation` (not 0) below the entry's never moves it (it returns false then).
    /// The local node's own entry changes only through ``updateLocal(raftAddress:apiAddress:)``.
    @discardableResult
    public func learn(_ id: NodeID, raftAddress: PeerAddress, apiAddress: PeerAddress, voter: Bool, keyHash: [UInt8] = [],
                      generation: UInt64 = 0, source: Source) -> Bool {
        guard id != localID else { return false }
        let raft = raftAddress.withoutScheme
        let api = apiAddress.withoutScheme
        return entries.withLock { book in
            let old = book[id]
            let moves = old.map { $0.raftAddress != raft || $0.apiAddress != api } ?? true
            // A generation guards an entry only against sources that are not more trusted than
            // the one that set it (an unproven claim of a high generation pins nothing).
            let older = old.map { generation != 0 && generation < $0.generation && ($0.source.isTrusted || !source.isTrusted) } ?? false
            if let old, older || (old.source.isTrusted && !source.isTrusted) {
                guard !moves else { return false }
                book[id]?.voter = voter
                if old.keyHash.isEmpty { book[id]?.keyHash = keyHash }
                return false
            }
            book[id] = Entry(raftAddress: raft, apiAddress: api, voter: voter, keyHash: keyHash.isEmpty ? old?.keyHash ?? [] : keyHash,
                             source: source, generation: moves ? generation : max(generation, old?.generation ?? 0))
            return moves
        }
    }

    /// Seeds an entry from the replicated membership unless something fresher is known.
    /// `previous` is the replicated record before this change (nil when new): if the book still
    /// holds those old addresses, the replicated update replaces them. A proven observation that
    /// is newer than the replicated record stays until the leader records it, and so does one
    /// from a later generation of the node than the record's.
    public func learnReplicated(_ id: NodeID, raftAddress: PeerAddress, apiAddress: PeerAddress, voter: Bool, keyHash: [UInt8] = [],
                                generation: UInt64 = 0, previous: (raft: PeerAddress, api: PeerAddress)?) {
        guard id != localID else { return }
        entries.withLock { book in
            let replicated = Entry(raftAddress: raftAddress, apiAddress: apiAddress, voter: voter, keyHash: keyHash, source: .replicated,
                                   generation: generation)
            guard let current = book[id] else {
                book[id] = replicated
                return
            }
            let same = current.raftAddress == raftAddress && current.apiAddress == apiAddress
            let stale = previous.map { current.raftAddress == $0.raft && current.apiAddress == $0.api } ?? false
            let newer = generation != 0 && generation > current.generation
            let bookIsLater = current.source.isTrusted && current.generation > generation
            if same || newer || (!bookIsLater && (stale || current.source == .replicated || !current.source.isTrusted)) {
                book[id] = replicated
                if same, bookIsLater { book[id]?.generation = current.generation }
            } else {
                book[id]?.voter = voter
                if !keyHash.isEmpty { book[id]?.keyHash = keyHash }
            }
        }
    }

    /// Records the roles `id` announced (normalized).
    public func noteRoles(_ id: NodeID, _ roles: [String]) {
        announcedRoles.withLock { $0[id] = RoleNames.normalized(roles) }
    }

    /// The roles `id` announced, when it said.
    public func roles(of id: NodeID) -> [String]? { announcedRoles.withLock { $0[id] } }

    public func updateLocal(raftAddress: PeerAddress, apiAddress: PeerAddress) {
        entries.withLock { $0[localID]?.raftAddress = raftAddress; $0[localID]?.apiAddress = apiAddress }
    }

    public func forget(_ id: NodeID) {
        guard id != localID else { return }
        entries.withLock { _ = $0.removeValue(forKey: id) }
    }

    public func entry(_ id: NodeID) -> Entry? { entries.withLock { $0[id] } }
    public func raftAddress(_ id: NodeID) -> PeerAddress? { entries.withLock { $0[id]?.raftAddress } }
    public func apiAddress(_ id: NodeID) -> PeerAddress? { entries.withLock { $0[id]?.apiAddress } }
    public var all: [NodeID: Entry] { entries.withLock { $0 } }
}
