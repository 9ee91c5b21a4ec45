import DiscoCore

// MARK: - Joiner

/// Plain `-join` (no `-bootstrap-expect`): tries to join through the targets up to `attempts`
/// times, `interval` apart, logging each failure, as rqlite's joiner does. A 409 refusal ends
/// the attempts at once: the cluster will keep refusing until the operator changes something.
public struct Joiner: Sendable {
    public var client: BootstrapClient
    /// `-join-attempts` (at least 1).
    public var attempts: Int
    /// `-join-interval`: the pause between attempts.
    public var interval: Duration
    /// Per-request timeout.
    public var timeout: Duration
    public var logger: Logger

    public init(client: BootstrapClient = BootstrapClient(), attempts: Int, interval: Duration, timeout: Duration = .seconds(2),
                logger: Logger) {
        self.client = client
        self.attempts = max(1, attempts)
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
    }

    /// Joins the cluster, or throws ``JoinError`` saying why not. Throws `CancellationError` when
    /// its task is cancelled between attempts.
    public func join(targets: [PeerAddress], request: JoinRequest) async throws -> JoinAccepted {
        guard !targets.isEmpty else { throw JoinError(.noTargets, detail: "no join targets given") }
        return try await join(request: request) { targets }
    }

    /// The same, with targets looked up again before every attempt (discovery answers and KV
    /// leader records change while a node waits); an attempt without targets counts as failed.
    public func join(request: JoinRequest, targets lookup: @Sendable () async -> [PeerAddress]) async throws -> JoinAccepted {
        var lastErrors: [String] = []
        for attempt in 1...attempts {
            let targets = await lookup()
            if targets.isEmpty {
                lastErrors = ["no join targets found"]
                logger.warning("join: attempt \(attempt)/\(attempts): no join targets found")
            } else {
                switch await client.join(targets: targets, request: request, timeout: timeout) {
                case .joined(let accepted, let target):
                    logger.info("join: joined cluster \(accepted.cluster.debugDescription) (epoch \(accepted.epoch)) via \(target); leader \(accepted.leader)")
                    return accepted
                case .refused(let error):
                    logger.error("join: \(error)")
                    throw JoinError(.refused, detail: error.description)
                case .failed(let failures):
                    lastErrors = failures.map(\.description)
                    for failure in failures { logger.warning("join: attempt \(attempt)/\(attempts): failed to join via node at \(failure)") }
                }
            }
            if attempt < attempts { try await Task.sleep(for: interval, clock: .continuous) }
        }
        throw JoinError(.failed, detail: "failed to join the cluster after \(attempts) attempt\(attempts == 1 ? "" : "s"); last errors: "
            + lastErrors.joined(separator: "; "))
    }
}

/// Why ``Joiner/join(targets:request:)`` gave up.
public struct JoinError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// No targets to try.
        public static let noTargets = Code(name: "no targets")
        /// Every attempt failed (no answer, no leader, too many redirects).
        public static let failed = Code(name: "join failed")
        /// The cluster refused this node (409: cluster name or epoch); wipe or fix the configuration.
        public static let refused = Code(name: "join refused")
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
