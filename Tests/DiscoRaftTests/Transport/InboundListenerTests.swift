import Testing
@testable import DiscoRaft

/// The listener's refusal lines are throttled per peer host (``KeyedLogThrottle`` in DiscoCore
/// has the throttle's own tests): the host of a peer address, whatever its port.
struct InboundListenerTests {
    @Test func hostsOfIPv6AndPortlessPeers() {
        #expect(InboundListener.host(of: "[::1]:4002") == "[::1]")
        #expect(InboundListener.host(of: "127.0.0.1:4002") == "127.0.0.1")
        #expect(InboundListener.host(of: "node-a") == "node-a")
        #expect(InboundListener.host(of: "fe80::1") == "fe80::1")
    }

    @Test func portsOfOneHostShareItsKey() {
        #expect(InboundListener.host(of: "10.0.0.5:40001") == InboundListener.host(of: "10.0.0.5:40002"))
        #expect(InboundListener.host(of: "[fe80::1]:1") == InboundListener.host(of: "[fe80::1]:2"))
    }
}
