import Testing
@testable import LeaseCore

@Suite struct LeaseSettingsTests {
    @Test func theDefaultsAreValidAndLeaveAMarginForDrift() throws {
        let settings = LeaseSettings()
        try settings.validate()
        #expect(settings.ttl == .milliseconds(500))
        #expect(settings.renewDeadline == .milliseconds(400))
        #expect(settings.renewPeriod == .milliseconds(100))
        #expect(settings.maxDrift == 0.01)
        // 500 ms × 0.99 / 1.01 = 490.099009… ms
        #expect(settings.renewDeadlineLimit == .nanoseconds(490_099_009))
        #expect(settings.renewDeadline < settings.renewDeadlineLimit)
    }

    func error(ttl: Duration = .milliseconds(800), deadline: Duration = .milliseconds(650), period: Duration = .milliseconds(150),
               drift: Double = 0.01) -> LeaseSettingsError? {
        do {
            _ = try LeaseSettings(ttl: ttl, renewDeadline: deadline, renewPeriod: period, maxDrift: drift)
            return nil
        } catch {
            return error
        }
    }

    @Test func durationsMustBePositive() {
        #expect(error(ttl: .zero)?.flag == .ttl)
        #expect(error(ttl: .seconds(-1))?.rule == .positiveDuration)
        #expect(error(ttl: .seconds(3601))?.description == "-lease-ttl: 1h0m1s must be above 0 and at most 1h0m0s")
        #expect(error(deadline: .zero)?.flag == .renewDeadline)
        #expect(error(period: .zero)?.flag == .renewPeriod)
    }

    @Test func driftMustBeAFractionInRange() {
        for drift in [-0.01, 0.21, Double.nan, Double.infinity] {
            let found = error(drift: drift)
            #expect(found?.flag == .maxDrift, "drift \(drift)")
            #expect(found?.rule == .driftRange)
        }
        #expect(error(drift: 0) == nil)
        #expect(error(deadline: .milliseconds(500), drift: 0.2) == nil)
    }

    @Test func theRenewDeadlineMustBeShorterThanTheTTL() {
        let found = error(ttl: .milliseconds(800), deadline: .milliseconds(800))
        #expect(found?.flag == .renewDeadline)
        #expect(found?.rule == .deadlineBelowTTL)
        #expect(found?.description == "-lease-renew-deadline: 800ms must be shorter than -lease-ttl 800ms")
    }

    @Test func theRenewDeadlineMustEndBeforeAnyClockCanShowTheTTLElapsed() {
        // Below the ttl, but not by the drift margin: 790 ms ≥ 784.158415 ms.
        let found = error(ttl: .milliseconds(800), deadline: .milliseconds(790))
        #expect(found?.flag == .renewDeadline)
        #expect(found?.rule == .deadlineWithinDrift)
        let text = found?.description ?? ""
        #expect(text.contains("790ms") && text.contains("784.158415ms") && text.contains("-lease-max-drift 0.01"), "\(text)")
        // Without drift the same value is fine; with 5 % drift 730 ms is not (limit 723.8 ms).
        #expect(error(ttl: .milliseconds(800), deadline: .milliseconds(790), drift: 0) == nil)
        #expect(error(ttl: .milliseconds(800), deadline: .milliseconds(730), drift: 0.05)?.rule == .deadlineWithinDrift)
    }

    @Test func theRenewPeriodMustFitTheDeadlineWithJitter() {
        // 650 ms deadline: the period must stay below 650 / 1.2 = 541.67 ms.
        #expect(error(period: .milliseconds(541)) == nil)
        let found = error(period: .milliseconds(542))
        #expect(found?.flag == .renewPeriod)
        #expect(found?.rule == .renewalsFitDeadline)
        #expect(found?.description.contains("650.4ms") == true, "\(found?.description ?? "")")
    }
}
