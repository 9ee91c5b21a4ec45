// DiscoSWIM: the SWIM shell (UDP datagrams, TCP push-pull, timers) around the pure core in
// SWIMCore.

// Importing the shell gives the whole SWIM API: the core's types are part of the shell's.
@_exported import SWIMCore
