// DiscoRaft: Raft consensus for Disco's control plane.
//
// MARK: - Layout
//
// - `Core/`: `RaftNode`, a pure value type (no clock, disk, socket, task or system randomness).
//   Inputs: `tick()`, `receive(_:)`, `propose(_:)`, `proposeConfigChange(_:)`, `campaign()`,
//   `transferLeadership(to:)`, `readIndex(context:)`, `compact(through:data:)`. Output: `ready()`
//   returns a `Ready` (state to persist, messages to send after persisting, entries to apply,
//   snapshot to restore, read results, role changes); `advance(_:)` acknowledges it.
//   Pre-vote and check-quorum are on by default; single-server membership changes take effect
//   when appended; a new leader commits a no-op before serving reads or membership changes.
// - `Codec/`: the strict, versioned binary encoding of messages (internode frame payloads), log
//   entries (WAL record payloads), configurations, hard state and snapshots.
// - `Storage/`: the `RaftStorage` protocol, `InMemoryRaftStorage` (with crash faults, for the
//   simulator) and `DurableRaftStorage` (segmented WAL with CRC32C records and group commit,
//   atomic `hardstate` and `snapshot` files).
