import DiscoCore

// MARK: - BroadcastQueue

extension SWIM {
    /// Gossip waiting to be piggybacked: at most one item per member (a newer item replaces an
    /// older one), each sent a limited number of times, fewest-transmitted (then newest) first.
    struct BroadcastQueue: Sendable {
        struct Entry: Sendable {
            var item: GossipItem
            var size: Int
            var transmits: Int
            var order: UInt64
        }

        private var entries: [NodeID: Entry] = [:]
        private var nextOrder: UInt64 = 0

        var isEmpty: Bool { entries.isEmpty }
        var count: Int { entries.count }

        /// Queues `item`, replacing any pending item about the same member.
        mutating func enqueue(_ item: GossipItem) {
            entries[item.subject] = Entry(item: item, size: WireCodec.encodedSize(of: item), transmits: 0, order: nextOrder)
            nextOrder += 1
        }

        /// The pending item about `id`, if any.
        func pending(about id: NodeID) -> GossipItem? { entries[id]?.item }

        /// How often the pending item about `id` has been sent.
        func transmits(about id: NodeID) -> Int? { entries[id]?.transmits }

        /// Picks items fitting `budget` bytes (at most `maxItems`), counts a transmission for
        /// each, and drops those sent `limit` times. `excluding` is left out (already placed).
        mutating func take(budget: Int, maxItems: Int, limit: Int, excluding: NodeID? = nil) -> (items: [GossipItem], size: Int) {
            guard !entries.isEmpty, budget > 0, maxItems > 0 else { return ([], 0) }
            var candidates = entries.values.filter { $0.item.subject != excluding }
            candidates.sort { $0.transmits != $1.transmits ? $0.transmits < $1.transmits : $0.order > $1.order }
            var items: [GossipItem] = []
            var used = 0
            for candidate in candidates {
                guard items.count < maxItems else { break }
                guard used + candidate.size <= budget else { continue }
                used += candidate.size
                items.append(candidate.item)
                markSent(candidate.item.subject, limit: limit)
            }
            return (items, used)
        }

        /// Counts one transmission of the item about `id` and drops it at `limit`.
        mutating func markSent(_ id: NodeID, limit: Int) {
            guard var entry = entries[id] else { return }
            entry.transmits += 1
            if entry.transmits >= limit { entries[id] = nil } else { entries[id] = entry }
        }

        /// Drops every pending item (used when an item could never fit a packet).
        mutating func drop(about id: NodeID) { entries[id] = nil }
    }
}
