import Synchronization

// MARK: - The current snapshot, swapped atomically

/// Holds the snapshot queries are answered from. ``update(_:)`` replaces it at once for every
/// query answered after it returns; responders keep their own reference and check a generation
/// counter (one atomic load per query) to see whether to take the new one.
final class DNSZoneHolder: Sendable {
    private let current: Mutex<(zone: DNSZone, generation: UInt64)>
    private let latest = Atomic<UInt64>(0)

    init(_ zone: DNSZone) {
        current = Mutex((zone, 0))
    }

    var zone: DNSZone { current.withLock { $0.zone } }

    func update(_ zone: DNSZone) {
        let generation = current.withLock { state in
            state.zone = zone
            state.generation += 1
            return state.generation
        }
        latest.store(generation, ordering: .releasing)
    }

    /// The snapshot and its generation when it is not `seen`; nil when `seen` is current.
    @inline(__always)
    func newer(than seen: UInt64) -> (DNSZone, UInt64)? {
        guard latest.load(ordering: .acquiring) != seen else { return nil }
        return current.withLock { ($0.zone, $0.generation) }
    }
}
