// MARK: - RateLimitDecision

/// What the limits decided for one request, and what the proxy does about it.
public struct RateLimitDecision: Hashable, Sendable, CustomStringConvertible {
    public enum Outcome: Hashable, Sendable {
        /// No limit applied: every limit's key was empty (or too long), so nothing was counted.
        case unlimited
        /// Within the rate (or the undelayed part of the burst): forward now.
        case passed
        /// Within the burst: forward after this many milliseconds.
        case delayed(milliseconds: Int64)
        /// Beyond the burst: answer with this status.
        case rejected(status: Int)
    }

    /// What the proxy does.
    public enum Action: Hashable, Sendable {
        case forward
        case forwardAfter(milliseconds: Int64)
        case reject(status: Int)
    }

    public let outcome: Outcome
    /// The policy only reports: the request is forwarded at once whatever the outcome.
    public let dryRun: Bool
    /// The limit (index in the policy) that delayed or rejected the request.
    public let limit: Int?
    /// That limit's excess in thousandths of a request, as nginx logs it (`excess: 1.500`).
    public let excess: Int64
    /// Rejected because the zone had no room for a new state even after evicting the least
    /// recently used one (nginx: "could not allocate node").
    public let zoneExhausted: Bool

    public init(outcome: Outcome, dryRun: Bool = false, limit: Int? = nil, excess: Int64 = 0, zoneExhausted: Bool = false) {
        self.outcome = outcome
        self.dryRun = dryRun
        self.limit = limit
        self.excess = excess
        self.zoneExhausted = zoneExhausted
    }

    /// What to do with the request: in dry run always ``Action/forward``.
    public var action: Action {
        if dryRun { return .forward }
        switch outcome {
        case .unlimited, .passed: return .forward
        case .delayed(let milliseconds): return .forwardAfter(milliseconds: milliseconds)
        case .rejected(let status): return .reject(status: status)
        }
    }

    /// nginx's `$limit_req_status` for the same decision: `PASSED`, `DELAYED`, `REJECTED`,
    /// `DELAYED_DRY_RUN`, `REJECTED_DRY_RUN`; empty when no limit applied.
    public var nginxStatus: String {
        let base: String
        switch outcome {
        case .unlimited: return ""
        case .passed: return "PASSED"
        case .delayed: base = "DELAYED"
        case .rejected: base = "REJECTED"
        }
        return dryRun ? base + "_DRY_RUN" : base
    }

    /// `passed`, `delayed 250ms (limit 0, excess 2.500)`, `rejected 503 (limit 1, excess 6.000)`.
    public var description: String {
        var text: String
        switch outcome {
        case .unlimited: text = "unlimited"
        case .passed: text = "passed"
        case .delayed(let milliseconds): text = "delayed \(milliseconds)ms"
        case .rejected(let status): text = "rejected \(status)"
        }
        if let limit {
            text += " (limit \(limit), excess \(excess / 1000).\(String(excess % 1000 + 1000).dropFirst())\(zoneExhausted ? ", zone full" : ""))"
        }
        return dryRun ? text + " [dry run]" : text
    }
}
