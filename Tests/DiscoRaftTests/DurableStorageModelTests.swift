import DiscoCore
import DiscoRaft
import Testing

// MARK: - Durable storage against the in-memory model

/// Random sequences of appends (with suffix replacement), hard-state changes, syncs,
/// compactions, snapshot installs and crashes, applied to `DurableRaftStorage` (reopened after
/// every crash) and to `InMemoryRaftStorage` as the model: what each recovers must agree.
@Suite("Durable storage matches the model")
struct DurableStorageModelTests {
    @Test("random operation sequences recover the same log", arguments: 0..<24)
    func randomSequences(seed: UInt64) throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        var random = DeterministicRandom(seed: seed)
        var durable = try DurableRaftStorage(directory: directory.path, segmentSize: 4096)
        var model = InMemoryRaftStorage()
        var term: UInt64 = 1
        let config = ClusterConfig(voters: ["n1", "n2", "n3"])
        // As the shell does: the first term is stored before any entry of it.
        try durable.setHardState(HardState(term: term))
        try model.setHardState(HardState(term: term))

        func compare(_ step: Int) throws {
            let (durableState, durableSnapshot) = try durable.load()
            let (modelState, modelSnapshot) = try model.load()
            let summary = { (entries: [Entry]) in entries.map { "\($0.index)@\($0.term)" } }
            #expect(summary(durableState.entries) == summary(modelState.entries), "seed \(seed) step \(step)")
            #expect(durableState.entries == modelState.entries ? true : false, "seed \(seed) step \(step): entry contents differ")
            #expect(durableSnapshot == modelSnapshot, "seed \(seed) step \(step): snapshots differ")
            #expect(durableState.hardState.term >= modelState.hardState.term, "seed \(seed) step \(step): term went back")
        }

        for step in 0..<60 {
            let (state, snapshot) = try model.load()
            let snapshotIndex = snapshot?.metadata.index ?? 0
            let lastIndex = state.entries.last?.index ?? snapshotIndex
            switch Int.random(in: 0..<10, using: &random) {
            case 0...3:
                let first = UInt64.random(in: (snapshotIndex + 1)...(lastIndex + 1), using: &random)
                if Bool.random(using: &random) {
                    term += 1
                    // As the shell does: a new term is stored before any entry of it.
                    let hard = HardState(term: term, vote: nil, commit: state.hardState.commit)
                    try durable.setHardState(hard)
                    try model.setHardState(hard)
                }
                let count = Int.random(in: 1...12, using: &random)
                let batch = (0..<count).map { offset in
                    Entry(term: term, index: first + UInt64(offset),
                          data: [UInt8](repeating: UInt8(truncatingIfNeeded: step), count: Int.random(in: 0...300, using: &random)))
                }
                try durable.append(batch)
                try model.append(batch)
            case 4:
                let hard = HardState(term: term, vote: Bool.random(using: &random) ? "n2" : nil, commit: lastIndex)
                try durable.setHardState(hard)
                try model.setHardState(hard)
            case 5, 6:
                try durable.sync()
                try model.sync()
            case 7:
                guard lastIndex > snapshotIndex else { continue }
                try durable.sync()
                try model.sync()
                let index = UInt64.random(in: (snapshotIndex + 1)...lastIndex, using: &random)
                let entryTerm = state.entries.first { $0.index == index }?.term ?? term
                let taken = Snapshot(metadata: SnapshotMetadata(index: index, term: entryTerm, config: config), data: [UInt8(step)])
                try durable.saveSnapshot(taken)
                try model.saveSnapshot(taken)
            case 8:
                guard Int.random(in: 0..<3, using: &random) == 0 else { continue }
                let index = lastIndex + UInt64.random(in: 0...20, using: &random)
                guard index > snapshotIndex else { continue }
                term += 1
                let installed = Snapshot(metadata: SnapshotMetadata(index: index, term: term, config: config), data: [0xEE])
                try durable.installSnapshot(installed)
                try model.installSnapshot(installed)
            default:
                // Crash: unsynced writes are lost on both sides; the durable side recovers from disk.
                model.crash()
                durable = try DurableRaftStorage(directory: directory.path, segmentSize: 4096)
                try compare(step)
            }
        }
        try durable.sync()
        try model.sync()
        try compare(60)
        durable = try DurableRaftStorage(directory: directory.path, segmentSize: 4096)
        try compare(61)
    }
}
