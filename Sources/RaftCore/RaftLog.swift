// MARK: - RaftLog

/// The in-memory view of a node's log: a snapshot position followed by consecutive entries,
/// plus how far the log is committed, applied and durably persisted.
struct RaftLog: Sendable {
    private(set) var snapshotIndex: UInt64
    private(set) var snapshotTerm: UInt64
    /// `entries[k].index == snapshotIndex + 1 + k`.
    private(set) var entries: [Entry]
    var committed: UInt64
    /// Entries up to here are applied (moved by ``markApplied(through:)``).
    private(set) var applied: UInt64
    /// The size (``Entry/byteSize``) of the applied entries still in the log: what a snapshot
    /// would let it drop.
    private(set) var appliedBytes = 0
    /// Entries up to here are durable in storage.
    var persisted: UInt64

    init(snapshotIndex: UInt64 = 0, snapshotTerm: UInt64 = 0, entries: [Entry] = []) {
        self.snapshotIndex = snapshotIndex
        self.snapshotTerm = snapshotTerm
        self.entries = entries
        committed = snapshotIndex
        applied = snapshotIndex
        persisted = snapshotIndex + UInt64(entries.count)
    }

    var firstIndex: UInt64 { snapshotIndex + 1 }
    var lastIndex: UInt64 { snapshotIndex + UInt64(entries.count) }
    var lastTerm: UInt64 { entries.last?.term ?? snapshotTerm }

    /// The term of the entry at `index`, or nil when it is compacted away or beyond the log.
    func term(at index: UInt64) -> UInt64? {
        if index == snapshotIndex { return snapshotTerm }
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)].term
    }

    func entry(at index: UInt64) -> Entry? {
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)]
    }

    /// Whether a log ending at `(index, term)` is at least as up to date as this one (§5.4.1).
    func isUpToDate(lastIndex index: UInt64, lastTerm term: UInt64) -> Bool {
        term > lastTerm || (term == lastTerm && index >= lastIndex)
    }

    /// Entries in `from...through`, limited by count and bytes (at least one when any exist).
    func slice(from: UInt64, through: UInt64, maxCount: Int = .max, maxBytes: Int = .max) -> [Entry] {
        guard from >= firstIndex, from <= through, through <= lastIndex else { return [] }
        let start = Int(from - snapshotIndex - 1)
        let end = Int(through - snapshotIndex - 1)
        var result: [Entry] = []
        var bytes = 0
        for position in start...end {
            let entry = entries[position]
            if !result.isEmpty && (result.count >= maxCount || bytes + entry.byteSize > maxBytes) { break }
            bytes += entry.byteSize
            result.append(entry)
        }
        return result
    }

    /// Entries after the durable point: what the next Ready asks the shell to persist.
    var unpersisted: [Entry] { persisted < lastIndex ? slice(from: persisted + 1, through: lastIndex) : [] }

    /// The first index of the run of `term` that ends at `index` (not below the first index).
    func firstIndex(ofTermAt index: UInt64) -> UInt64 {
        guard let term = term(at: index) else { return index }
        var candidate = index
        while candidate > firstIndex, self.term(at: candidate - 1) == term { candidate -= 1 }
        return candidate
    }

    /// The last index at or below `index` whose term is `term`, if any.
    func lastIndex(ofTerm term: UInt64, atOrBelow index: UInt64) -> UInt64? {
        var candidate = min(index, lastIndex)
        while candidate >= snapshotIndex {
            guard let found = self.term(at: candidate) else { return nil }
            if found == term { return candidate }
            if found < term || candidate == 0 { return nil }
            candidate -= 1
        }
        return nil
    }

    // MARK: Mutation

    /// Records that the entries through `index` are applied (a lower index changes nothing).
    mutating func markApplied(through index: UInt64) {
        guard index > applied else { return }
        if applied < lastIndex {
            for position in Int(applied - snapshotIndex)..<Int(min(index, lastIndex) - snapshotIndex) {
                appliedBytes += entries[position].byteSize
            }
        }
        applied = index
    }

    /// Appends entries that directly follow or overwrite part of the log: any existing entry at
    /// or after the first new index is dropped. Returns the index where the log was cut, if any.
    @discardableResult
    mutating func append(_ newEntries: [Entry]) -> UInt64? {
        guard let first = newEntries.first else { return nil }
        var cut: UInt64?
        if first.index <= lastIndex {
            entries.removeLast(Int(lastIndex - first.index + 1))
            persisted = min(persisted, first.index - 1)
            cut = first.index
        }
        entries.append(contentsOf: newEntries)
        return cut
    }

    /// Drops entries up to and including `index` (which must be in the log), remembering its term.
    mutating func compact(through index: UInt64) {
        guard index > snapshotIndex, let term = term(at: index) else { return }
        let dropped = Int(index - snapshotIndex)
        appliedBytes -= entries[..<dropped].reduce(0) { $0 + $1.byteSize }
        entries.removeFirst(dropped)
        snapshotIndex = index
        snapshotTerm = term
    }

    /// Replaces the whole log with a snapshot position.
    mutating func restore(index: UInt64, term: UInt64) {
        entries = []
        snapshotIndex = index
        snapshotTerm = term
        committed = index
        applied = index
        appliedBytes = 0
        persisted = index
    }
}
