import DiscoCore
@testable import DiscoSWIM
import Testing

// MARK: - The shell's timer bookkeeping

@Suite struct TimerScheduleTests {
    @Test func armingAgainMovesTheDeadline() {
        var schedule = SWIM.TimerSchedule()
        schedule.arm(.protocolPeriod, at: .milliseconds(200))
        schedule.arm(.gossip, at: .milliseconds(100))
        schedule.arm(.protocolPeriod, at: .milliseconds(50))
        #expect(schedule.count == 2)
        #expect(schedule.earliest == .milliseconds(50))
        schedule.arm(.protocolPeriod, at: .milliseconds(300))
        #expect(schedule.earliest == .milliseconds(100))
        #expect(schedule.deadline(of: .protocolPeriod) == .milliseconds(300))
    }

    @Test func dueTimersComeOutEarliestFirstAndOnce() {
        var schedule = SWIM.TimerSchedule()
        schedule.arm(.reap, at: .seconds(3))
        schedule.arm(.directProbeTimeout(sequence: 9), at: .seconds(2))
        schedule.arm(.suspicion("x"), at: .seconds(1))
        schedule.arm(.reconnect, at: .seconds(10))
        #expect(schedule.takeDue(at: .milliseconds(500)).isEmpty)
        #expect(schedule.takeDue(at: .seconds(3)) == [.suspicion("x"), .directProbeTimeout(sequence: 9), .reap])
        #expect(schedule.takeDue(at: .seconds(3)).isEmpty)
        #expect(schedule.earliest == .seconds(10))
        schedule.removeAll()
        #expect(schedule.earliest == nil)
    }

    @Test func rateLimitedLogLetsOneThroughPerInterval() {
        var limit = RateLimitedLog()
        #expect(limit.shouldLog(at: .zero) == (true, 0))
        #expect(limit.shouldLog(at: .milliseconds(10)).log == false)
        #expect(limit.shouldLog(at: .milliseconds(20)).log == false)
        #expect(limit.shouldLog(at: .seconds(2)) == (true, 2))
    }
}
