import DiscoCore
import Sidecar
import Testing

@Suite("Sidecar: announced proxy addresses")
struct ProxyAnnouncementTests {
    @Test(arguments: [("10.0.0.2", UInt16(8443), true), ("app-1.app-internal.default.svc", UInt16(8080), false), ("::1", UInt16(9443), true)])
    func anAnnouncementReadsBackAsStored(host: String, port: UInt16, tls: Bool) throws {
        let announcement = ProxyAnnouncement(address: PeerAddress(host: host, port: port), tls: tls)
        let read = try ProxyAnnouncement.decode(announcement.encoded()).get()
        #expect(read == announcement)
        #expect(read.url.hasPrefix(tls ? "https://" : "http://"))
    }

    @Test func theWriterIsReachedWhereAndHowItAnnounced() {
        let announcement = ProxyAnnouncement(address: PeerAddress(host: "10.0.0.2", port: 9443), tls: true)
        #expect(announcement.writerLocation(id: "n2") == .remote(address: "10.0.0.2:9443", id: "n2", tls: true))
        let table = RouteTable(ProxyRoute.defaults(upstream: "local"))
        let decision = table.decide(method: "POST", path: "/", hopped: false, writer: announcement.writerLocation(id: "n2"), isHealthy: { _ in true })
        #expect(decision == .forward(route: table.routes[1], destination: .writer(address: "10.0.0.2:9443", id: "n2", upstream: "local", tls: true)))
    }

    @Test(arguments: [
        ("", "not a JSON object"),
        ("[1]", "not a JSON object"),
        (#"{"address":"10.0.0.1:8443"}"#, #"no "url" string"#),
        (#"{"url":"10.0.0.1:8443"}"#, "has no scheme"),
        (#"{"url":"ftp://10.0.0.1:8443"}"#, "unsupported scheme"),
        (#"{"url":"https://10.0.0.1"}"#, "port"),
    ])
    func aDamagedAnnouncementSaysWhatIsWrong(stored: String, message: String) {
        switch ProxyAnnouncement.decode(Array(stored.utf8)) {
        case .success(let announcement): Issue.record("\(stored) decoded as \(announcement)")
        case .failure(let error): #expect(error.message.contains(message), "\(error)")
        }
    }
}

@Suite("Sidecar: locating the writer")
struct WriterLocateTests {
    let announced = ProxyAnnouncement(address: PeerAddress(host: "10.0.0.7", port: 18443), tls: true).encoded()

    @Test func theLeadersAnnouncementIsUsedNotItsAPIAddress() {
        #expect(WriterLocation.locate(leader: "n7", isLocal: false, announcement: announced) == .remote(address: "10.0.0.7:18443", id: "n7", tls: true))
    }

    @Test func theLeaderItselfWritesLocally() {
        #expect(WriterLocation.locate(leader: "n1", isLocal: true, announcement: nil) == .local)
    }

    @Test(arguments: [(String?.none, [UInt8]?.none, "no leader"), ("n2", nil, "has not announced"), ("n2", Array("{}".utf8), "cannot be used")])
    func anUnknownWriterSaysWhy(leader: String?, announcement: [UInt8]?, reason: String) {
        guard case .unknown(let why) = WriterLocation.locate(leader: leader, isLocal: false, announcement: announcement) else {
            Issue.record("expected an unknown writer")
            return
        }
        #expect(why.contains(reason), "\(why)")
    }
}

@Suite("Sidecar: who may claim a hop")
struct SidecarPeersTests {
    @Test func membersAndAnnouncedProxiesArePeersOthersAreNot() {
        let peers = SidecarPeers(memberAddresses: ["10.0.0.1:4001", "http://10.0.0.2:4001", "[fd00::3]:4002", "not an address"],
                                 announcements: [ProxyAnnouncement(address: PeerAddress(host: "10.0.0.9", port: 8443), tls: true).encoded(),
                                                 Array("{}".utf8)])
        for host in ["10.0.0.1", "10.0.0.2", "fd00::3", "10.0.0.9", "::ffff:10.0.0.1"] { #expect(peers.contains(host), "\(host)") }
        for host in ["10.0.0.3", "192.168.1.1", "", "::ffff:10.0.0.4"] { #expect(!peers.contains(host), "\(host)") }
    }

    /// An IPv6 address is one address however it is spelled: a member advertised as
    /// `[0:0:0:0:0:0:0:1]` or `[FD00:0::0:7]` sends from `::1` or `fd00::7`, as the kernel
    /// writes a connection's source address (RFC 5952).
    @Test func ipv6MembersMatchWhateverTheirSpelling() {
        let peers = SidecarPeers(memberAddresses: ["[0:0:0:0:0:0:0:1]:4001", "http://[FD00:0::0:7]:4001", "[fd00:0:0:0:0:0:a00:9]:4002"],
                                 announcements: [ProxyAnnouncement(address: PeerAddress(host: "2001:DB8:0:0:1:0:0:1", port: 8443), tls: false).encoded()])
        for host in ["::1", "fd00::7", "fd00::a00:9", "2001:db8::1:0:0:1", "0:0::1", "FD00::7"] { #expect(peers.contains(host), "\(host)") }
        for host in ["::2", "fd00::8", "10.0.0.9", "::ffff:10.0.0.9", "fd00::7%1"] { #expect(!peers.contains(host), "\(host)") }
    }
}
