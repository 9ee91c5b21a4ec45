@testable import LeaseCore

// MARK: - The settings the lease core tests share

extension LeaseSettings {
    /// ttl 800 ms, renew deadline 650 ms, renew period 150 ms, drift 1%.
    static let forTests = LeaseSettings.unchecked(ttl: .milliseconds(800), renewDeadline: .milliseconds(650),
                                                  renewPeriod: .milliseconds(150), maxDrift: 0.01)
}
