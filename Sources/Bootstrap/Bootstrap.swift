// Bootstrap: `-bootstrap-expect` formation around the pure engine in BootstrapCore.
//
// - `Shell/`: the actor that runs the engine's effects over HTTP (notify rounds, proposals,
//   joins), the promise file, and the formation wire (JSON bodies).
// - `KV/`: registration in Consul or etcd and the leader-record keeper.

// Importing the shell gives the whole formation API: the engine's types are part of the shell's.
@_exported import BootstrapCore
