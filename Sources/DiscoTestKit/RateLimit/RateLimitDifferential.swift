import RateLimitCore

// MARK: - System under test

/// What a system did with one request of a trace.
public struct RateLimitObservation: Sendable {
    /// Monotonic microseconds when the request was sent.
    public var sentAt: Int64
    /// Microseconds the send was later than scheduled.
    public var lateness: Int64
    /// The response status (0 when there was none).
    public var status: Int
    /// Microseconds from sending to the first byte of the answer.
    public var latency: Int64
    /// The system's own name for its decision (nginx's `$limit_req_status`: `PASSED`, `DELAYED`,
    /// `REJECTED`, `…_DRY_RUN`, empty when no limit applied), when it reports one.
    public var reportedStatus: String?
    /// Milliseconds between sending the request and the system seeing it (from its own log),
    /// when known; more than the trace's jitter budget makes the run inconclusive.
    public var arrivalDelay: Int64?
    /// Why the request got no usable answer.
    public var error: String?

    public init(sentAt: Int64, lateness: Int64, status: Int, latency: Int64, reportedStatus: String? = nil,
                arrivalDelay: Int64? = nil, error: String? = nil) {
        self.sentAt = sentAt
        self.lateness = lateness
        self.status = status
        self.latency = latency
        self.reportedStatus = reportedStatus
        self.arrivalDelay = arrivalDelay
        self.error = error
    }
}

/// A system that rate limits HTTP requests (nginx, the sidecar): it starts itself with the
/// scenario's zones and limits, receives the trace through ``TimedRequestClient``, and reports
/// what it did with each request.
public protocol RateLimitSystemUnderTest: Sendable {
    var name: String { get }
    func run(_ scenario: RateLimitScenario) async throws -> [RateLimitObservation]
}

// MARK: - RateLimitDifferential

/// Compares a system's observations with the core's decisions for the same trace, fed with the
/// times the requests were actually sent.
public enum RateLimitDifferential {
    /// How far a measured delay may be from the core's: the answer may come up to 10 ms early
    /// (nginx's clock ticks every 4 ms and both sides round to milliseconds) and up to 150 ms
    /// late (the system saw the request late, its timer fired late, scheduling on a busy machine).
    /// An answer earlier than that is a mismatch. One later than that makes the run inconclusive
    /// (a stalled system cannot be told from one that waited too long), and the run is repeated;
    /// a system that really waits too long stays inconclusive and fails.
    public static let delayTolerance: ClosedRange<Int64> = -10...150

    public struct Comparison: Sendable {
        /// Why the run cannot judge anything (timing outside the trace's jitter budget).
        public var inconclusive: String?
        public var mismatches: [String]
        /// Every request: schedule, send time, what the core decided, what the system did.
        public var table: String
    }

    /// Judges one run. Requests sent or seen later than `jitter` ms (the scenario's budget by
    /// default) make it inconclusive: the trace is only robust within that budget.
    public static func compare(_ scenario: RateLimitScenario, _ observations: [RateLimitObservation], jitter: Int64? = nil) -> Comparison {
        let jitter = jitter ?? scenario.jitter
        let times = observations.map { $0.sentAt / 1000 }
        let decisions = scenario.decisions(at: times)
        let worst = observations.map { $0.lateness / 1000 + max(0, $0.arrivalDelay ?? 0) }.max() ?? 0
        var late: [String] = []
        var lines = ["  #  sched   sent  late  seen  core                                     system"]
        var mismatches: [String] = []
        let first = observations.first?.sentAt ?? 0
        for (index, (decision, observation)) in zip(decisions, observations).enumerated() {
            let request = scenario.requests[index]
            let problem = mismatch(decision, observation)
            var note = problem
            if problem == nil, let lateness = answeredLate(decision, observation) {
                late.append("request \(index) was answered after \(observation.latency / 1000) ms, more than \(RateLimitDifferential.delayTolerance.upperBound) ms after its delay")
                note = "answered \(lateness) ms late"
            }
            let system = observation.error ?? "\(observation.status) \(observation.reportedStatus ?? "-") after \(observation.latency / 1000) ms"
            lines.append(pad(index, 3) + pad(request.offset, 7) + pad((observation.sentAt - first) / 1000, 7) + pad(observation.lateness / 1000, 6)
                + pad(observation.arrivalDelay.map { String($0) } ?? "-", 6) + "  " + String(describing: decision).padding(40) + " " + system
                + (note.map { "   <-- \($0)" } ?? ""))
            if let problem {
                mismatches.append("request \(index) (at \(request.offset) ms from 127.0.0.\(request.client)): \(problem)")
            }
        }
        var inconclusive = worst > jitter
            ? "a request was sent or seen \(worst) ms late, beyond the trace's \(jitter) ms budget" : nil
        if inconclusive == nil, let first = late.first { inconclusive = first + ": the system or this machine stalled, or it waited too long" }
        return Comparison(inconclusive: inconclusive, mismatches: mismatches, table: lines.joined(separator: "\n"))
    }

    static func mismatch(_ decision: RateLimitDecision, _ observation: RateLimitObservation) -> String? {
        if let error = observation.error { return error }
        let latency = observation.latency / 1000
        switch decision.action {
        case .reject(let status):
            if observation.status != status { return "status \(observation.status), expected \(status)" }
        case .forward:
            if observation.status != 200 { return "status \(observation.status), expected 200" }
        case .forwardAfter(let milliseconds):
            if observation.status != 200 { return "status \(observation.status), expected 200 after \(milliseconds) ms" }
            if latency - milliseconds < delayTolerance.lowerBound {
                return "answered after \(latency) ms, expected \(milliseconds) ms (\(delayTolerance.lowerBound)…+\(delayTolerance.upperBound))"
            }
        }
        if let reported = observation.reportedStatus, reported != decision.nginxStatus {
            return "reported \(reported.isEmpty ? "nothing" : reported), expected \(decision.nginxStatus.isEmpty ? "nothing" : decision.nginxStatus)"
        }
        return nil
    }

    /// How many ms after its delay (0 for a request forwarded at once, when the system does not
    /// report its decisions) an answer came, when that is more than the tolerance allows.
    static func answeredLate(_ decision: RateLimitDecision, _ observation: RateLimitObservation) -> Int64? {
        let expected: Int64
        switch decision.action {
        case .reject: return nil
        case .forward:
            guard observation.reportedStatus == nil else { return nil }
            expected = 0
        case .forwardAfter(let milliseconds): expected = milliseconds
        }
        let lateness = observation.latency / 1000 - expected
        return lateness > delayTolerance.upperBound ? lateness : nil
    }

    static func pad(_ value: some CustomStringConvertible, _ width: Int) -> String {
        let text = String(describing: value)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}

// MARK: - Running with retries

extension RateLimitDifferential {
    /// Runs the scenario on `system` until a run is conclusive (at most `attempts` runs) and
    /// returns its comparison, or the last inconclusive one.
    public static func run(_ scenario: RateLimitScenario, on system: some RateLimitSystemUnderTest, jitter: Int64? = nil, attempts: Int = 8) async throws -> Comparison {
        var comparison: Comparison?
        for _ in 0..<attempts {
            let observations = try await system.run(scenario)
            let result = compare(scenario, observations, jitter: jitter)
            comparison = result
            if result.inconclusive == nil { return result }
        }
        return comparison ?? Comparison(inconclusive: "not run", mismatches: [], table: "")
    }
}
