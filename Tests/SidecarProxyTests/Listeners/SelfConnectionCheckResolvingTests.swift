import DiscoCore
import DiscoNet
import Sidecar
import SidecarProxy
import Synchronization
import Testing

/// The start's check that no upstream is one of the proxy's own listeners compared the
/// addresses as written, so `:27017=127.1:27017`, `[::]:27017=[0:0:0:0:0:0:0:1]:27017`, an
/// upstream named by a host name that resolves here, or this machine's own interface address
/// against a listener on every interface passed, and the proxy connected to itself until it ran
/// out of descriptors. The check resolves the hosts as the proxy does to connect.
@Suite("Sidecar proxy: an upstream that is the proxy's own listener, resolved")
struct SelfConnectionCheckResolvingTests {
    /// Names of this test resolve from a table (nothing is asked of DNS); addresses as the proxy
    /// resolves them. This machine's interfaces: loopback and 10.1.2.3.
    static let check = SelfConnectionCheck.resolving(resolve: { host, port in
        func at(_ hosts: String...) -> [SocketAddress] { hosts.compactMap { SocketAddress(numericHost: $0, port: port) } }
        switch host {
        case "db.internal": return at("127.0.0.1")
        case "pod-0.app": return at("10.1.2.3")
        case "dual.internal": return at("127.0.0.1", "::1")
        case "gone.internal": return nil
        default: return try? SocketAddress.resolve(host: host, port: port)
        }
    }, interfaces: [SocketAddress(numericHost: "127.0.0.1", port: 0), SocketAddress(numericHost: "::1", port: 0),
                    SocketAddress(numericHost: "10.1.2.3", port: 0)].compactMap { $0 })

    func reach(_ listen: String, _ upstream: String, bindsEveryAddress: Bool = false) throws -> String? {
        Self.check.reach(try PeerAddress(parsingListenAddress: listen), try PeerAddress(parsing: upstream), bindsEveryAddress)
    }

    @Test(arguments: [
        (":27017", "db.internal:27017", "127.0.0.1:27017"),  // a name for loopback
        (":27017", "127.1:27017", "127.0.0.1:27017"),  // a short spelling getaddrinfo reads
        ("0.0.0.0:27017", "127.0.0.2:27017", "127.0.0.2:27017"),  // any of 127/8
        ("[::]:27017", "127.0.0.2:27017", "127.0.0.2:27017"),  // [::] is bound dual-stack: IPv4 too
        ("[::]:27017", "[0:0:0:0:0:0:0:1]:27017", "[::1]:27017"),  // another spelling of ::1
        (":27017", "[::ffff:127.0.0.1]:27017", "127.0.0.1:27017"),  // IPv4 in IPv6 form
        ("0.0.0.0:27017", "[::ffff:127.0.0.1]:27017", "127.0.0.1:27017"),
        ("0.0.0.0:27017", "10.1.2.3:27017", "10.1.2.3:27017"),  // this machine's interface address
        (":27017", "pod-0.app:27017", "10.1.2.3:27017"),  // ... by its name
        ("10.1.2.3:27017", "pod-0.app:27017", "10.1.2.3:27017"),
        ("127.0.0.1:27017", "0.0.0.0:27017", "0.0.0.0:27017"),  // a connection to 0.0.0.0 goes to 127.0.0.1
    ])
    func anUpstreamReachingTheListenerIsFound(listen: String, upstream: String, reached: String) throws {
        #expect(try reach(listen, upstream) == reached)
    }

    @Test(arguments: [
        ("0.0.0.0:27017", "[::1]:27017"),  // 0.0.0.0 takes IPv4 only
        (":27017", "10.1.2.4:27017"),  // another machine
        (":27017", "db.internal:27018"),  // another port
        ("127.0.0.1:27017", "127.0.0.2:27017"),  // another loopback address
        ("10.1.2.3:27017", "db.internal:27017"),  // the pod's address to its own loopback
        ("127.0.0.2:27017", "0.0.0.0:27017"),
        (":27017", "gone.internal:27017"),  // not resolved now: the upstream may come later
    ])
    func anUpstreamReachingAnotherListenerPasses(listen: String, upstream: String) throws {
        #expect(try reach(listen, upstream) == nil)
    }

    /// The HTTP proxy binds every address its host resolves to; a TCP listener the first.
    @Test func theHTTPProxyListensOnEveryAddressOfItsHost() throws {
        #expect(try reach("dual.internal:8080", "[::1]:8080", bindsEveryAddress: true) == "[::1]:8080")
        #expect(try reach("dual.internal:8080", "[::1]:8080", bindsEveryAddress: false) == nil)
    }

    /// Every listener is compared with every upstream; a name that takes the resolver's whole
    /// timeout must not cost it once per pair.
    @Test func eachHostIsResolvedOnce() {
        final class Asked: Sendable { let hosts = Mutex<[String]>([]) }
        let asked = Asked()
        let check = SelfConnectionCheck.resolving(resolve: { host, port in
            asked.hosts.withLock { $0.append(host) }
            return host == "slow.internal" ? nil : SocketAddress(numericHost: "127.0.0.1", port: port).map { [$0] }
        }, interfaces: [])
        for listen in ["127.0.0.1", "127.0.0.2", "127.0.0.1"] {
            _ = check.reach(PeerAddress(host: listen, port: 80), PeerAddress(host: "slow.internal", port: 80), false)
        }
        #expect(asked.hosts.withLock { $0 }.sorted() == ["127.0.0.1", "127.0.0.2", "slow.internal"])
    }

    /// The check `disco-sidecar` runs: the system's resolver and this machine's interfaces.
    @Test func theSystemCheckSeesThisMachinesOwnAddresses() throws {
        let interfaces = SocketAddress.interfaceAddresses()
        #expect(interfaces.contains { $0.host == "127.0.0.1" }, "\(interfaces)")
        let system = SelfConnectionCheck.resolving()
        for own in interfaces where !own.isLoopback && own.scopeID == 0 {
            let upstream = PeerAddress(host: own.host, port: 27017)
            #expect(system.reach(PeerAddress(host: "", port: 27017), upstream, false) != nil, "\(own)")
        }
        #expect(system.reach(PeerAddress(host: "0.0.0.0", port: 27017), PeerAddress(host: "127.1", port: 27017), false) == "127.0.0.1:27017")
    }
}
