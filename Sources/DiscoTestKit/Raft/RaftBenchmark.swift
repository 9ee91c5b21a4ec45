import DiscoCore
import DiscoRaft

// MARK: - RaftBenchmark

/// Measures committed proposals per second on an in-process 3-node cluster: every message goes
/// through the real codec, every Ready through the given storage (in memory, or the durable WAL
/// with one fsync per Ready), and clients propose `batch` entries per round.
public struct RaftBenchmark {
    public struct Result: Sendable {
        public var proposals: Int
        public var seconds: Double
        public var syncs: Int
        public var proposalsPerSecond: Double { seconds > 0 ? Double(proposals) / seconds : 0 }
    }

    public static func run(proposals: Int, batch: Int, payloadSize: Int = 128,
                           makeStorage: (NodeID) throws -> any RaftStorage) throws -> Result {
        let ids: [NodeID] = ["n1", "n2", "n3"]
        var options = RaftOptions()
        options.maxEntriesPerAppend = max(64, batch)
        options.snapshotThreshold = 0
        options.snapshotThresholdBytes = 0
        var nodes: [RaftNode] = []
        var storages: [any RaftStorage] = []
        var random = DeterministicRandom(seed: 1)
        for id in ids {
            var storage = try makeStorage(id)
            try storage.initialize(with: .bootstrap(voters: ids))
            storages.append(storage)
            nodes.append(try RaftNode(id: id, options: options, state: .bootstrap(voters: ids), random: random.fork()))
        }
        var queue: [[UInt8]] = []
        var syncs = 0
        var applied = 0

        func process(_ position: Int) throws {
            while nodes[position].hasReady {
                let ready = nodes[position].ready()
                if ready.mustSync { syncs += 1 }
                try storages[position].persist(ready)
                for message in ready.messages { queue.append(RaftCodec.encode(message)) }
                if position == 0 { applied += ready.committedEntries.count { $0.kind == .normal } }
                nodes[position].advance(ready)
            }
        }

        /// Delivers everything queued, like a shell that reads all pending frames before handling
        /// one Ready per node (so one fsync covers many messages).
        func deliverAll() throws {
            while !queue.isEmpty {
                let batch = queue
                queue = []
                var touched = Set<Int>()
                for bytes in batch {
                    let message = try RaftCodec.decodeMessage(bytes)
                    guard let target = ids.firstIndex(of: message.to) else { continue }
                    nodes[target].receive(message)
                    touched.insert(target)
                }
                for position in touched.sorted() { try process(position) }
            }
        }

        nodes[0].campaign()
        try process(0)
        try deliverAll()
        guard nodes[0].role == .leader else { throw RaftError(.notLeader, "benchmark leader was not elected") }

        let payload = [UInt8](repeating: 0x5A, count: payloadSize)
        let clock = ContinuousClock()
        let start = clock.now
        var proposed = 0
        syncs = 0
        while applied < proposals {
            let count = min(batch, proposals - proposed)
            for _ in 0..<count { try nodes[0].propose(payload) }
            proposed += count
            try process(0)
            try deliverAll()
            // Heartbeats carry the commit index to followers, as a shell's timer would.
            nodes[0].tick()
            try process(0)
            try deliverAll()
            if count == 0, applied < proposals { break }
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Result(proposals: applied, seconds: seconds, syncs: syncs)
    }
}
