// DiscoRaft: the Raft shell of Disco's control plane, around the pure core in RaftCore.
//
// MARK: - Layout
//
// - RaftCore (its own target, re-exported here): `RaftNode`, a pure value type (no clock, disk,
//   socket, task or system randomness), and the strict, versioned binary codec of messages,
//   log entries, configurations, hard state and snapshots.
// - `Storage/`: the `RaftStorage` protocol, `InMemoryRaftStorage` (with crash faults, for the
//   simulator) and `DurableRaftStorage` (segmented WAL with CRC32C records and group commit,
//   atomic `hardstate` and `snapshot` files).
// - `Transport/`: framed TCP between voters, batched per peer.
// - `Shell/`: `RaftNodeShell`, the one owner of a core, its storage, transport and timers.

// Importing the shell gives the whole Raft API: the core's types are part of the shell's.
@_exported import RaftCore
