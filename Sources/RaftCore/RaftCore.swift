// RaftCore: Raft as a pure value type, with its binary codec. Depends on DiscoCore only; the
// compiler keeps it free of clocks, disks, sockets, tasks and system randomness (DiscoRaft is the
// shell that does the I/O).
//
// MARK: - Layout
//
// - `RaftNode`: inputs `tick()`, `receive(_:)`, `propose(_:)`, `proposeConfigChange(_:)`,
//   `campaign()`, `transferLeadership(to:)`, `readIndex(context:)`, `compact(through:)`.
//   Output: `ready()` returns a `Ready` (state to persist, messages to send after persisting,
//   entries to apply, snapshot to restore, read results, role changes, a fault that stops the
//   node); `advance(_:)` acknowledges it. Pre-vote and check-quorum are on by default;
//   single-server membership changes take effect when appended; a new leader commits a no-op
//   before serving reads or membership changes.
// - `Codec/`: the strict, versioned binary encoding of messages (internode frame payloads), log
//   entries (WAL record payloads), configurations, hard state and snapshots.
