import Testing
@testable import DiscoCore

// MARK: - One line per key and interval, the rest counted

@Suite struct KeyedLogThrottleTests {
    @Test func aKeyIsLoggedOncePerIntervalThenWithTheCountHeldBack() {
        var throttle = KeyedLogThrottle<String>(interval: .seconds(10), capacity: 256)
        let start = Duration.seconds(1000)
        #expect(throttle.shouldLog("10.0.0.5", detail: "r", at: start) == (true, 0))
        #expect(throttle.shouldLog("10.0.0.5", detail: "r", at: start + .seconds(1)) == (false, 0))
        #expect(throttle.shouldLog("10.0.0.5", detail: "r", at: start + .seconds(2)) == (false, 0))
        #expect(throttle.shouldLog("10.0.0.6", detail: "r", at: start + .seconds(2)) == (true, 0), "another key has its own line")
        #expect(throttle.shouldLog("10.0.0.5", detail: "r", at: start + .seconds(10)) == (true, 2))
        #expect(throttle.shouldLog("10.0.0.5", detail: "r", at: start + .seconds(21)) == (true, 0))
        #expect(throttle.shouldLog("10.0.0.5", detail: "r", at: start + .seconds(22)) == (false, 0))
        #expect(throttle.shouldLog("10.0.0.5", detail: "another", at: start + .seconds(22)) == (true, 1),
                "another detail is logged at once")
    }

    @Test func withoutDetailsOnlyTimeLetsALineThrough() {
        var throttle = KeyedLogThrottle<PeerAddress>(interval: .seconds(60), capacity: 64)
        let other = PeerAddress(host: "127.0.0.1", port: 7946)
        let elsewhere = PeerAddress(host: "127.0.0.1", port: 7947)
        #expect(throttle.shouldLog(other, at: .zero) == (true, 0))
        for second in 1..<60 { #expect(throttle.shouldLog(other, at: .seconds(second)) == (false, 0)) }
        #expect(throttle.shouldLog(elsewhere, at: .seconds(30)) == (true, 0), "another address has its own line")
        #expect(throttle.shouldLog(other, at: .seconds(60)) == (true, 59))
        #expect(throttle.shouldLog(other, at: .seconds(200)) == (true, 0), "nothing held back since")
    }

    @Test func aChangedDetailLogsAtOnceAndBackAgain() {
        var throttle = KeyedLogThrottle<String>(interval: .seconds(10), capacity: 8)
        #expect(throttle.shouldLog("h", detail: "a", at: .zero).log)
        #expect(throttle.shouldLog("h", detail: "b", at: .seconds(1)) == (true, 0))
        #expect(throttle.shouldLog("h", detail: "b", at: .seconds(2)) == (false, 0))
        #expect(throttle.shouldLog("h", detail: "a", at: .seconds(3)) == (true, 1), "only the last detail is remembered")
        #expect(throttle.shouldLog("h", at: .seconds(4)) == (true, 0), "no detail differs from one")
    }

    // MARK: Bounded memory

    @Test func memoryStaysBoundedByCapacity() {
        var throttle = KeyedLogThrottle<String>(interval: .seconds(10), capacity: 4)
        for host in 0..<100 {
            #expect(throttle.shouldLog("10.0.1.\(host)", detail: "r", at: .seconds(5)).log)
            #expect(throttle.trackedKeys <= 4)
        }
    }

    @Test func whenFullKeysLoggedAnIntervalAgoGoFirst() {
        var throttle = KeyedLogThrottle<Int>(interval: .seconds(10), capacity: 3)
        #expect(throttle.shouldLog(1, at: .zero).log)
        #expect(throttle.shouldLog(2, at: .seconds(8)).log)
        #expect(throttle.shouldLog(3, at: .seconds(9)).log)
        // Key 1 is stale at 10 s: it goes, 2 and 3 stay held back.
        #expect(throttle.shouldLog(4, at: .seconds(10)).log)
        #expect(throttle.trackedKeys == 3)
        #expect(throttle.shouldLog(2, at: .seconds(11)) == (false, 0))
        #expect(throttle.shouldLog(3, at: .seconds(11)) == (false, 0))
        #expect(throttle.shouldLog(4, at: .seconds(11)) == (false, 0))
    }

    @Test func whenFullOfFreshKeysItStartsAfresh() {
        var throttle = KeyedLogThrottle<Int>(interval: .seconds(10), capacity: 2)
        #expect(throttle.shouldLog(1, at: .zero).log)
        #expect(throttle.shouldLog(2, at: .zero).log)
        #expect(throttle.shouldLog(3, at: .seconds(1)).log)
        #expect(throttle.trackedKeys == 1)
        #expect(throttle.shouldLog(3, at: .seconds(2)) == (false, 0), "the new key is remembered")
        #expect(throttle.shouldLog(1, at: .seconds(2)).log, "a forgotten key logs a line too many")
    }

    @Test func aKeyAlreadyTrackedNeverEvictsOthers() {
        var throttle = KeyedLogThrottle<Int>(interval: .seconds(10), capacity: 2)
        #expect(throttle.shouldLog(1, at: .zero).log)
        #expect(throttle.shouldLog(2, at: .seconds(5)).log)
        #expect(throttle.shouldLog(1, at: .seconds(10)) == (true, 0))
        #expect(throttle.shouldLog(2, at: .seconds(11)) == (false, 0))
        #expect(throttle.trackedKeys == 2)
    }
}
