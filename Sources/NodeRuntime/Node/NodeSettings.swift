import DiscoCore

// MARK: - NodeSettings

/// What a node runs with: the validated command line plus a few tunables that are not flags.
public struct NodeSettings: Sendable {
    public var options: DiscodOptions
    public var logger: Logger
    /// How often Raft's logical clock ticks; heartbeats go out every tick.
    public var raftTickInterval: Duration = .milliseconds(50)
    /// Election timeout in ticks (each node draws from `[n, 2n)` ticks).
    public var electionTicks: Int = 6
    /// How long a graceful shutdown may take before the process exits anyway.
    public var shutdownGrace: Duration = .seconds(10)
    /// Per-target timeout of notify and join requests during formation.
    public var formationRequestTimeout: Duration = .seconds(1)
    /// How often the leader reconciles the replicated membership with Raft's configuration.
    public var reconcileInterval: Duration = .milliseconds(250)
    /// How often the `-gossip-keyring` file is checked for new contents (SIGHUP reloads at once).
    public var gossipKeyringPollInterval: Duration = .seconds(1)
    /// How long a node that learned it was removed keeps answering `/status` and `/readyz`
    /// (so health checks see why) before it exits.
    public var removedLinger: Duration = .seconds(10)
    /// TLS contexts loaded from the options' files; nil: ``Node/start(_:components:)`` loads them.
    public var tls: NodeTLS?
    /// How often certificate and key files are checked for changes (reloaded when they change).
    public var tlsReloadInterval: Duration = .seconds(1)

    public init(options: DiscodOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }
}
