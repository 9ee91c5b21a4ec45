// MARK: - ProbeTracker

/// The kubelet's bookkeeping for one probe of one container, as a value: when the next attempt
/// is due, and what consecutive results turn into. Readiness starts failed and turns ready after
/// `successThreshold` successes in a row; liveness starts passing and fails after
/// `failureThreshold` failures in a row; startup passes at its first success and fails (the
/// container is restarted) after `failureThreshold` failures.
///
/// `timeScale` shrinks `initialDelaySeconds` and `periodSeconds` (1 = as written; tests use less
/// so scenarios do not take minutes). The failure budget keeps its wall-clock length: with periods
/// ten times shorter, ten times as many failures in a row are needed, so a start that is slow
/// under load fails no sooner than the manifest allows. A probe's own timeout is never scaled.
public struct ProbeTracker: Sendable {
    public enum Verdict: Sendable, Hashable {
        /// Not decided yet (startup and readiness before their first success).
        case unknown
        case passing
        case failed
    }

    public let kind: ProbeSpec.Kind
    public let spec: ProbeSpec
    public private(set) var verdict: Verdict
    public private(set) var nextDue: ContinuousClock.Instant
    private var successes = 0
    private var failures = 0
    private let period: Duration
    /// `failureThreshold`, stretched by the time scale.
    public let failureBudget: Int

    public init(kind: ProbeSpec.Kind, spec: ProbeSpec, containerStarted: ContinuousClock.Instant, timeScale: Double) {
        self.kind = kind
        self.spec = spec
        verdict = kind == .liveness ? .passing : .unknown
        period = .milliseconds(max(50, Int(Double(spec.periodSeconds) * 1000 * timeScale)))
        nextDue = containerStarted + .milliseconds(Int(Double(spec.initialDelaySeconds) * 1000 * timeScale))
        failureBudget = timeScale < 1 ? Int((Double(spec.failureThreshold) / max(timeScale, 0.001)).rounded(.up)) : spec.failureThreshold
    }

    public func isDue(at now: ContinuousClock.Instant) -> Bool { now >= nextDue }

    /// Records one attempt that finished at `now`; returns the new verdict when it changed.
    public mutating func record(success: Bool, at now: ContinuousClock.Instant) -> Verdict? {
        nextDue = now + period
        if success {
            successes += 1
            failures = 0
        } else {
            failures += 1
            successes = 0
        }
        let before = verdict
        switch kind {
        case .startup:
            if verdict == .unknown {
                if success { verdict = .passing } else if failures >= failureBudget { verdict = .failed }
            }
        case .readiness:
            if success, successes >= spec.successThreshold { verdict = .passing }
            if !success, failures >= failureBudget { verdict = .failed }
        case .liveness:
            if success { verdict = .passing } else if failures >= failureBudget { verdict = .failed }
        }
        return verdict == before ? nil : verdict
    }
}
