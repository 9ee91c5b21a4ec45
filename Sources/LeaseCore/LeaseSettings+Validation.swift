import DiscoCore

// MARK: - LeaseSettingsError

/// Lease settings that cannot work: names the flag, the rule it breaks and the values involved.
public struct LeaseSettingsError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The rules lease settings must follow.
    public enum Rule: Sendable, Hashable {
        /// A duration must be above zero (and the ttl at most ``LeaseSettings/maximumTTL``).
        case positiveDuration
        /// The drift must be a number in `0...LeaseSettings.maximumDrift`.
        case driftRange
        /// ttl > renew deadline (client-go's first rule).
        case deadlineBelowTTL
        /// renew deadline < ttl × (1 − ρ) / (1 + ρ): the holder stops before anyone may take over.
        case deadlineWithinDrift
        /// renew deadline > 1.2 × renew period (client-go's second rule).
        case renewalsFitDeadline
    }

    /// The flag at fault, without the dash.
    public let flag: LeaseSettings.Flag
    /// The rule broken.
    public let rule: Rule
    /// What is wrong and what would be right.
    public let reason: String

    public var description: String { "-\(flag.rawValue): \(reason)" }
}

// MARK: - Validation

extension LeaseSettings {
    /// Checks the rules (in this order): every duration positive, ttl at most an hour, drift in
    /// 0...0.2, ttl > renew deadline, renew deadline < ttl × (1 − ρ)/(1 + ρ), renew deadline >
    /// 1.2 × renew period.
    public func validate() throws(LeaseSettingsError) {
        func text(_ duration: Duration) -> String { GoDuration.format(duration) }
        guard ttl > .zero, ttl <= Self.maximumTTL else {
            throw LeaseSettingsError(flag: .ttl, rule: .positiveDuration,
                                     reason: "\(text(ttl)) must be above 0 and at most \(text(Self.maximumTTL))")
        }
        guard renewDeadline > .zero else {
            throw LeaseSettingsError(flag: .renewDeadline, rule: .positiveDuration, reason: "\(text(renewDeadline)) must be above 0")
        }
        guard renewPeriod > .zero else {
            throw LeaseSettingsError(flag: .renewPeriod, rule: .positiveDuration, reason: "\(text(renewPeriod)) must be above 0")
        }
        guard maxDrift.isFinite, (0...Self.maximumDrift).contains(maxDrift) else {
            throw LeaseSettingsError(flag: .maxDrift, rule: .driftRange,
                                     reason: "\(maxDrift) must be a fraction in 0...\(Self.maximumDrift) (0.01 is 1 %)")
        }
        guard renewDeadline < ttl else {
            throw LeaseSettingsError(flag: .renewDeadline, rule: .deadlineBelowTTL,
                                     reason: "\(text(renewDeadline)) must be shorter than -lease-ttl \(text(ttl))")
        }
        let limit = renewDeadlineLimit
        guard renewDeadline < limit else {
            throw LeaseSettingsError(
                flag: .renewDeadline, rule: .deadlineWithinDrift,
                reason: "\(text(renewDeadline)) must be shorter than -lease-ttl × (1 − drift) / (1 + drift) = \(text(limit)) "
                    + "(-lease-ttl \(text(ttl)), -lease-max-drift \(maxDrift)), so the hot stops acting before any other "
                    + "node's clock can show the ttl elapsed; shorten it or lengthen -lease-ttl")
        }
        let minimumDeadline = renewPeriod * Self.jitterFactor
        guard renewDeadline > minimumDeadline else {
            throw LeaseSettingsError(
                flag: .renewPeriod, rule: .renewalsFitDeadline,
                reason: "\(text(renewPeriod)) is too long for -lease-renew-deadline \(text(renewDeadline)): the deadline must exceed "
                    + "\(Self.jitterFactor) × the renew period (\(text(minimumDeadline))) so a late renewal still lands in time")
        }
    }
}
