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
    /// What each limit did with the request, for its own part: the one that rejected it, or
    /// each that charged it (passed, or delayed by its own delay, whichever was the longest).
    public let perLimit: PerLimit

    public init(outcome: Outcome, dryRun: Bool = false, limit: Int? = nil, excess: Int64 = 0, zoneExhausted: Bool = false,
                perLimit: PerLimit = PerLimit()) {
        self.outcome = outcome
        self.dryRun = dryRun
        self.limit = limit
        self.excess = excess
        self.zoneExhausted = zoneExhausted
        self.perLimit = perLimit
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

// MARK: - Per limit

extension RateLimitDecision {
    /// What each limit of a policy did with one request (a bit per limit position, for the
    /// first ``capacity`` limits): passed, delayed or rejected it, or nothing — it only looked
    /// the request up (a later limit rejected it, and nginx then charges none) or never looked
    /// at it (its key was empty, or an earlier limit rejected). Three words, no allocation: the
    /// proxy counts every request per zone from it.
    public struct PerLimit: Hashable, Sendable {
        /// The limits a decision reports on: positions 0 to 63.
        public static let capacity = 64

        /// What one limit did with the request.
        public enum Verdict: Hashable, Sendable {
            /// Counted it and let it through without a wait of its own.
            case passed
            /// Counted it with a delay of its own (the request waits for the longest).
            case delayed
            /// Rejected it (or, for ``RateLimiter/charge(_:keys:now:)``, was taken past its burst by it).
            case rejected
        }

        /// Bit `i` set: limit `i` passed, delayed or rejected the request.
        public private(set) var passed: UInt64
        public private(set) var delayed: UInt64
        public private(set) var rejected: UInt64

        public init(passed: UInt64 = 0, delayed: UInt64 = 0, rejected: UInt64 = 0) {
            self.passed = passed
            self.delayed = delayed
            self.rejected = rejected
        }

        /// Only limit `position` did something: `verdict`.
        public init(_ verdict: Verdict, limit position: Int) {
            self.init()
            set(verdict, limit: position)
        }

        /// The limits that did something with the request, a bit each.
        public var limits: UInt64 { passed | delayed | rejected }

        /// What limit `position` did with the request (nil: nothing, or beyond ``capacity``).
        public subscript(position: Int) -> Verdict? {
            guard (0..<Self.capacity).contains(position) else { return nil }
            let bit = UInt64(1) << UInt64(position)
            if passed & bit != 0 { return .passed }
            if delayed & bit != 0 { return .delayed }
            return rejected & bit != 0 ? .rejected : nil
        }

        /// Records what limit `position` did (ignored beyond ``capacity``).
        public mutating func set(_ verdict: Verdict, limit position: Int) {
            guard (0..<Self.capacity).contains(position) else { return }
            let bit = UInt64(1) << UInt64(position)
            switch verdict {
            case .passed: passed |= bit
            case .delayed: delayed |= bit
            case .rejected: rejected |= bit
            }
        }
    }
}
