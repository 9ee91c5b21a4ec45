import DiscoCore
import Testing
@testable import SWIMCore

// MARK: - Sender budget: a token bucket per source address

@Suite struct SenderBudgetTests {
    static let a = PeerAddress(host: "10.0.0.1", port: 7946)
    static let b = PeerAddress(host: "10.0.0.2", port: 7946)

    /// How many of `count` datagrams from `sender`, spread evenly over `over` from `start`, are admitted.
    static func admitted(_ budget: inout SWIM.SenderBudget, _ sender: PeerAddress, count: Int,
                         over: Duration, from start: Duration = .zero) -> Int {
        (0..<count).filter { index in budget.admits(sender, at: start + over * (Double(index) / Double(count))) }.count
    }

    /// How many of `count` datagrams from `sender` at one instant are admitted.
    static func admitted(_ budget: inout SWIM.SenderBudget, _ sender: PeerAddress, count: Int, at now: Duration) -> Int {
        (0..<count).filter { _ in budget.admits(sender, at: now) }.count
    }

    @Test func aBurstIsAdmittedThenTheRestOfTheInstantIsDropped() {
        var budget = SWIM.SenderBudget(rate: 10, burst: 5)
        let at = Duration.seconds(100)
        let burst = Self.admitted(&budget, Self.a, count: 5, at: at)
        let after = Self.admitted(&budget, Self.a, count: 2, at: at)
        #expect(burst == 5)
        #expect(after == 0)
    }

    @Test func itRefillsAtTheRateButNeverAboveTheBurst() {
        var budget = SWIM.SenderBudget(rate: 10, burst: 5)
        let first = Self.admitted(&budget, Self.a, count: 6, at: .zero)
        // Half a second: five more.
        let halfASecondLater = Self.admitted(&budget, Self.a, count: 6, at: .milliseconds(500))
        // An hour of quiet refills to the burst, no further.
        let anHourLater = Self.admitted(&budget, Self.a, count: 6, at: .seconds(3_600))
        #expect(first == 5)
        #expect(halfASecondLater == 5)
        #expect(anHourLater == 5)
    }

    @Test func sendersHaveBudgetsOfTheirOwn() {
        var budget = SWIM.SenderBudget(rate: 1, burst: 3)
        let flooder = Self.admitted(&budget, Self.a, count: 10, at: .seconds(1))
        let other = Self.admitted(&budget, Self.b, count: 3, at: .seconds(1))
        // The same host on another port is another sender (another member on that host).
        let sameHostOtherPort = Self.admitted(&budget, PeerAddress(host: "10.0.0.1", port: 7947), count: 3, at: .seconds(1))
        #expect(flooder == 3)
        #expect(other == 3)
        #expect(sameHostOtherPort == 3)
    }

    @Test func aClockThatStepsBackRefillsNothingAndDoesNotTrap() {
        var budget = SWIM.SenderBudget(rate: 1_000, burst: 2)
        let first = Self.admitted(&budget, Self.a, count: 2, at: .seconds(10))
        let earlier = Self.admitted(&budget, Self.a, count: 1, at: .seconds(5))
        let again = Self.admitted(&budget, Self.a, count: 1, at: .seconds(10))
        let later = Self.admitted(&budget, Self.a, count: 2, at: .seconds(10) + .milliseconds(1))
        #expect(first == 2)
        #expect(earlier == 0)
        #expect(again == 0)
        #expect(later == 1)
    }

    @Test func valuesBelowOneCountAsOne() {
        var budget = SWIM.SenderBudget(rate: 0, burst: -3, capacity: 0)
        #expect(budget.rate == 1 && budget.burst == 1 && budget.capacity == 1)
        let now = Self.admitted(&budget, Self.a, count: 2, at: .zero)
        let aSecondLater = Self.admitted(&budget, Self.a, count: 2, at: .seconds(1))
        #expect(now == 1)
        #expect(aSecondLater == 1)
    }

    // MARK: The standard budget against legitimate traffic and a flood

    /// The most one member sends another with the default settings (200 ms period, 100 ms gossip
    /// interval, 3 helpers), in a 100-member cluster: its gossip rounds (10/s), probes (5/s),
    /// acks to the other's probes (5/s), its probe requests (5/s), answers to the other's probe
    /// requests (10/s), and pings on behalf of all 98 other members asking it as a helper in
    /// every period (490/s, which random helper choice makes all but impossible): 525 a second.
    static let worstLegitimateRate = 10 + 5 + 5 + 5 + 10 + 98 * 5

    @Test func theStandardBudgetAdmitsEverythingAMemberSends() {
        var budget = SWIM.SenderBudget.standard
        let minute = Self.worstLegitimateRate * 60
        let steady = Self.admitted(&budget, Self.a, count: minute, over: .seconds(60))
        // Far beyond it: the whole worst-case rate at once, four times over, after that minute.
        let burst = Self.worstLegitimateRate * 4
        let atOnce = Self.admitted(&budget, Self.a, count: burst, at: .seconds(61))
        #expect(steady == minute)
        #expect(atOnce == burst)
        #expect(Self.worstLegitimateRate * 3 < budget.rate && Self.worstLegitimateRate * 6 < budget.burst)
    }

    @Test func aFloodFromOneSenderIsCutToTheRate() {
        var budget = SWIM.SenderBudget.standard
        // 200,000 datagrams a second for five seconds.
        let admitted = Self.admitted(&budget, Self.a, count: 1_000_000, over: .seconds(5))
        #expect(admitted <= budget.burst + 5 * budget.rate + 1)
        #expect(admitted >= 5 * budget.rate)
        // A member sending meanwhile is not affected.
        let member = Self.admitted(&budget, Self.b, count: 500, over: .seconds(1), from: .seconds(5))
        #expect(member == 500)
    }

    // MARK: Memory

    @Test func manySendersNeverGrowItBeyondItsCapacityNorCostALegitimateDatagram() {
        var budget = SWIM.SenderBudget(rate: 10, burst: 20, capacity: 64)
        var dropped = 0
        for round in 0..<1_000 {
            let now = Duration.milliseconds(round)
            // A new address every millisecond (a flood from spoofed addresses), and a member
            // sending once every 200 ms, within its budget whether it is remembered or forgotten.
            if !budget.admits(PeerAddress(host: "10.1.\(round / 250).\(round % 250)", port: 9), at: now) { dropped += 1 }
            if round % 200 == 0, !budget.admits(Self.a, at: now) { dropped += 1 }
            #expect(budget.trackedSenders <= 64)
        }
        #expect(dropped == 0)
    }
}
