import Testing
@testable import DiscoRaft

/// One refusal line per peer host and interval, the rest counted.
struct PeerLogThrottleTests {
    @Test func aHostIsLoggedOncePerIntervalWhateverItsPortThenWithTheCountHeldBack() {
        var throttle = PeerLogThrottle(interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(throttle.shouldLog("10.0.0.5:40001", reason: "r", at: start) == (true, 0))
        #expect(throttle.shouldLog("10.0.0.5:40002", reason: "r", at: start + .seconds(1)) == (false, 0))
        #expect(throttle.shouldLog("10.0.0.5:40003", reason: "r", at: start + .seconds(2)) == (false, 0))
        #expect(throttle.shouldLog("10.0.0.6:40001", reason: "r", at: start + .seconds(2)) == (true, 0), "another host has its own line")
        #expect(throttle.shouldLog("10.0.0.5:40004", reason: "r", at: start + .seconds(10)) == (true, 2))
        #expect(throttle.shouldLog("10.0.0.5:40005", reason: "r", at: start + .seconds(21)) == (true, 0))
        #expect(throttle.shouldLog("10.0.0.5:40006", reason: "r", at: start + .seconds(22)) == (false, 0))
        #expect(throttle.shouldLog("10.0.0.5:40007", reason: "another", at: start + .seconds(22)) == (true, 1),
                "another reason is logged at once")
    }

    @Test func hostsOfIPv6AndPortlessPeers() {
        #expect(PeerLogThrottle.host(of: "[::1]:4002") == "[::1]")
        #expect(PeerLogThrottle.host(of: "127.0.0.1:4002") == "127.0.0.1")
        #expect(PeerLogThrottle.host(of: "node-a") == "node-a")
        #expect(PeerLogThrottle.host(of: "fe80::1") == "fe80::1")
    }

    @Test func memoryStaysBoundedByCapacity() {
        var throttle = PeerLogThrottle(interval: .seconds(10), capacity: 4)
        let now = ContinuousClock.now
        for host in 0..<100 { #expect(throttle.shouldLog("10.0.1.\(host):1", reason: "r", at: now).log) }
        #expect(throttle.trackedHosts <= 4)
    }
}
