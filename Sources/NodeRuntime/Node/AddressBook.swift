import DiscoCore
import Synchronization

// MARK: - AddressBook

/// Where each node is now, by ID: its advertised Raft address and HTTP API address.
///
/// Raft knows peers only by ID; this book answers "where is node 3?" from everything the node
/// hears: the replicated membership, notify and join requests, bootstrap proposals and SWIM
/// gossip. The newest observation wins, so a cluster whose nodes all come back on new addresses
/// re-forms as soon as they hear from each other.
public final class AddressBook: Sendable {
    /// One node's addresses.
    public struct Entry: Hashable, Sendable {
        public var raftAddress: PeerAddress
        public var apiAddress: PeerAddress
        public var voter: Bool
        /// Where the addresses were last learned (for /status and logs).
        public var source: Source
    }

    public enum Source: String, Sendable, Hashable {
        case local, replicated, notify, join, proposal, gossip
    }

    private let entries: Mutex<[NodeID: Entry]>
    public let localID: NodeID

    public init(local id: NodeID, raftAddress: PeerAddress, apiAddress: PeerAddress, voter: Bool) {
        localID = id
        entries = Mutex([id: Entry(raftAddress: raftAddress, apiAddress: apiAddress, voter: voter, source: .local)])
    }

    /// Records what was just heard about `id`. Returns true when the addresses changed.
    /// The local node's own entry changes only through ``updateLocal(raftAddress:apiAddress:)``.
    @discardableResult
    public func learn(_ id: NodeID, raftAddress: PeerAddress, apiAddress: PeerAddress, voter: Bool, source: Source) -> Bool {
        guard id != localID else { return false }
        let entry = Entry(raftAddress: raftAddress.withoutScheme, apiAddress: apiAddress.withoutScheme, voter: voter, source: source)
        return entries.withLock { book in
            let old = book[id]
            book[id] = entry
            return old?.raftAddress != entry.raftAddress || old?.apiAddress != entry.apiAddress
        }
    }

    /// Seeds an entry from the replicated membership unless something fresher is known.
    /// `previous` is the replicated record before this change (nil when new): if the book still
    /// holds those old addresses, the replicated update replaces them.
    public func learnReplicated(_ id: NodeID, raftAddress: PeerAddress, apiAddress: PeerAddress, voter: Bool,
                                previous: (raft: PeerAddress, api: PeerAddress)?) {
        guard id != localID else { return }
        entries.withLock { book in
            guard let current = book[id] else {
                book[id] = Entry(raftAddress: raftAddress, apiAddress: apiAddress, voter: voter, source: .replicated)
                return
            }
            let stale = previous.map { current.raftAddress == $0.raft && current.apiAddress == $0.api } ?? false
            if stale || current.source == .replicated {
                book[id] = Entry(raftAddress: raftAddress, apiAddress: apiAddress, voter: voter, source: .replicated)
            } else {
                book[id]?.voter = voter
            }
        }
    }

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
