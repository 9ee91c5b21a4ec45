import DiscoCore
import DiscoRaft

// MARK: - RaftTestCluster

/// A hand-driven group of Raft cores for scenario tests: messages wait in `inFlight` until
/// delivered, links can be cut, and every Ready is persisted, sent and applied at once.
public struct RaftTestCluster {
    public private(set) var nodes: [NodeID: RaftNode] = [:]
    public private(set) var storage: [NodeID: InMemoryRaftStorage] = [:]
    /// Messages sent and not yet delivered (or dropped).
    public var inFlight: [Message] = []
    /// Every message ever sent, in order.
    public private(set) var sent: [Message] = []
    /// Entries each node applied, in order.
    public private(set) var applied: [NodeID: [Entry]] = [:]
    /// Snapshots each node installed from its leader.
    public private(set) var installedSnapshots: [NodeID: [Snapshot]] = [:]
    public private(set) var readStates: [NodeID: [ReadState]] = [:]
    /// Directed links that drop messages.
    public var cut: Set<[NodeID]> = []
    public let options: RaftOptions
    private var random: DeterministicRandom

    /// A cluster bootstrapped with `voters`, all started.
    public init(voters: [NodeID], options: RaftOptions = RaftOptions(), seed: UInt64 = 1) {
        self.options = options
        random = DeterministicRandom(seed: seed)
        for id in voters { add(id, state: .bootstrap(voters: voters)) }
    }

    /// Starts a node from `state` (empty for a node that will be added by a membership change).
    public mutating func add(_ id: NodeID, state: PersistentState = PersistentState()) {
        var store = InMemoryRaftStorage()
        if !state.isEmpty { try? store.initialize(with: state) }
        storage[id] = store
        do {
            nodes[id] = try RaftNode(id: id, options: options, state: state, random: random.fork())
        } catch {
            preconditionFailure("test cluster node \(id) cannot start: \(error)")
        }
        applied[id] = applied[id] ?? []
    }

    public var ids: [NodeID] { nodes.keys.sorted() }

    public subscript(id: NodeID) -> RaftNode {
        guard let node = nodes[id] else { preconditionFailure("no node \(id)") }
        return node
    }

    /// Gives an input to a node and processes the resulting Ready.
    @discardableResult
    public mutating func with<Result>(_ id: NodeID, _ input: (inout RaftNode) throws -> Result) rethrows -> Result {
        guard var node = nodes[id] else { preconditionFailure("no node \(id)") }
        nodes[id] = nil
        defer {
            nodes[id] = node
            process(id)
        }
        return try input(&node)
    }

    /// Persists, sends and applies until the node has nothing to do.
    public mutating func process(_ id: NodeID) {
        while var node = nodes[id], node.hasReady {
            let ready = node.ready()
            do {
                try storage[id]?.persist(ready)
            } catch {
                preconditionFailure("in-memory storage failed: \(error)")
            }
            var messages = ready.messages
            if !ready.snapshotSends.isEmpty {
                // As the node shell does: send the stored snapshot, with the metadata of what was read.
                guard let stored = try? storage[id]?.storedSnapshot() else {
                    preconditionFailure("\(id) was asked to send a snapshot but stores none (compact with compact(_:through:data:))")
                }
                messages += ready.snapshotSends.compactMap { $0.message(carrying: stored) }
            }
            for message in messages {
                sent.append(message)
                if !cut.contains([message.from, message.to]) { inFlight.append(message) }
            }
            if let snapshot = ready.snapshot { installedSnapshots[id, default: []].append(snapshot) }
            applied[id, default: []].append(contentsOf: ready.committedEntries)
            readStates[id, default: []].append(contentsOf: ready.readStates)
            node.advance(ready)
            nodes[id] = node
        }
    }

    public mutating func tick(_ id: NodeID, times: Int = 1) {
        for _ in 0..<times { with(id) { $0.tick() } }
    }

    /// Ticks every node `times` times, delivering messages after each round.
    public mutating func tickAll(times: Int) {
        for _ in 0..<times {
            for id in ids { tick(id) }
            deliverAll()
        }
    }

    /// Delivers messages (and those they cause) until none are left or `maxMessages` were delivered.
    @discardableResult
    public mutating func deliverAll(maxMessages: Int = 100_000) -> Int {
        var delivered = 0
        while !inFlight.isEmpty, delivered < maxMessages {
            let message = inFlight.removeFirst()
            delivered += 1
            guard nodes[message.to] != nil, !cut.contains([message.from, message.to]) else { continue }
            with(message.to) { $0.receive(message) }
        }
        return delivered
    }

    /// Cuts `id` off from every other node in both directions.
    public mutating func isolate(_ id: NodeID) {
        for other in ids where other != id {
            cut.insert([id, other])
            cut.insert([other, id])
        }
    }

    public mutating func heal() { cut = [] }

    /// Takes a snapshot on `id` through `index` with `data` and stores it, as a shell does (the
    /// core keeps only its metadata; a leader's snapshot sends read it from storage).
    @discardableResult
    public mutating func compact(_ id: NodeID, through index: UInt64, data: [UInt8]) throws -> Snapshot {
        guard var node = nodes[id] else { preconditionFailure("no node \(id)") }
        let snapshot = try node.compact(through: index, data: data)
        nodes[id] = node
        try storage[id]?.saveSnapshot(snapshot)
        process(id)
        return snapshot
    }

    /// Replaces a node's storage (e.g. after the test saved a snapshot into it).
    public mutating func replaceStorage(_ id: NodeID, with store: InMemoryRaftStorage) { storage[id] = store }

    /// Removes a node (as if it crashed) and restarts it from its storage.
    public mutating func restart(_ id: NodeID) {
        guard let store = storage[id], let recovered = try? store.load() else { return }
        do {
            nodes[id] = try RaftNode(id: id, options: options, state: recovered.state, random: random.fork())
        } catch {
            preconditionFailure("restart of \(id) failed: \(error)")
        }
    }

    /// The nodes that believe they lead, with their terms.
    public var leaders: [NodeID] { ids.filter { nodes[$0]?.role == .leader } }

    /// Elects `id` by campaigning and delivering everything.
    public mutating func elect(_ id: NodeID) {
        with(id) { $0.campaign() }
        deliverAll()
    }
}
