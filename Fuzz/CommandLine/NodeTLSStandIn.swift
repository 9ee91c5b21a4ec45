// The command-line fuzzer compiles DiscodOptions without NodeRuntime: parsing only carries the
// loaded TLS contexts (filled in later by NodeCommand), so an empty type stands in for them.
public struct NodeTLS: Sendable {}
