import DiscoCore

// MARK: - Configuration problems during formation

extension BootstrapClientError.Code {
    /// True for failures that retrying will not cure, only a change of configuration: wrong or
    /// missing `-join-as` credentials, a redirect off TLS, a cluster that refuses this node.
    /// Unreachable nodes, timeouts and "no leader yet" are transient.
    public var isConfigurationProblem: Bool {
        self == .unauthorized || self == .insecureRedirect || self == .refused
    }
}

/// Remembers the configuration problems formation met and says which of them to log now: each
/// distinct (target, reason) at once, then again at most every ``repeatInterval`` while it
/// persists, so an operator sees it without the retry loop flooding the log. Pure: the caller
/// passes the time.
public struct FormationProblems: Sendable {
    /// How long a problem already logged stays quiet. Default 30 seconds.
    public var repeatInterval: Duration { throttle.interval }
    /// The latest configuration problem met, if any.
    public private(set) var latest: BootstrapClientError?
    var throttle: KeyedLogThrottle<String>

    public init(repeatInterval: Duration = .seconds(30)) {
        throttle = KeyedLogThrottle(interval: repeatInterval, capacity: 256)
    }

    /// Records `problem`, met at `now` (a duration since any fixed origin, the same on every
    /// call). Returns the warning to log now (first seen, or last logged at least
    /// ``repeatInterval`` ago, saying how often it recurred meanwhile), or nil to stay quiet.
    public mutating func record(_ problem: BootstrapClientError, now: Duration) -> String? {
        latest = problem
        // One key per kind and target: a join and a notify refused for the same credentials are
        // one problem, said once. A refusal's reason is the cluster's own, so it is part of the key.
        let key = problem.code == .refused ? "\(problem.code) \(problem.target) \(problem.detail)" : "\(problem.code) \(problem.target)"
        let decision = throttle.shouldLog(key, at: now)
        guard decision.log else { return nil }
        let repeated = decision.suppressed > 0 ? " (\(decision.suppressed) more time\(decision.suppressed == 1 ? "" : "s") since it was last logged)" : ""
        return Self.message(problem) + repeated
    }

    /// The warning for `problem`: the target, what it answered, and the flag to fix.
    public static func message(_ problem: BootstrapClientError) -> String {
        "\(problem.target): \(problem.detail); \(fix(for: problem.code))"
    }

    /// What to change for a configuration problem of this kind.
    static func fix(for code: BootstrapClientError.Code) -> String {
        switch code {
        case .unauthorized:
            "check -join-as: its user needs the join permission and the password stored in the -auth file of "
                + "every node (every node should read the same -auth file)"
        case .insecureRedirect:
            "serve every node's API over HTTPS (-http-cert) and advertise an https:// address (-http-adv-addr)"
        case .refused:
            "check that every node runs with the same -cluster-name and -bootstrap-expect, and that this node's "
                + "data directory does not hold another cluster's state"
        default:
            "retrying"
        }
    }
}
