import DiscoDNS
import Testing

/// The order in which a name is tried with resolv.conf's search list (glibc's `res_nsearch`).
@Suite struct DNSSearchListTests {
    static let kubernetes = DNSSearchList(domains: ["ns.svc.cluster.local", "svc.cluster.local", "cluster.local"], ndots: 5)

    func names(_ list: DNSSearchList, _ name: String, fullyQualified: Bool = false) throws -> [String] {
        list.candidates(for: try DNSName(parsing: name), fullyQualified: fullyQualified).map(\.description)
    }

    @Test func fewerDotsThanNdotsSearchesFirstAndAsksAsGivenLast() throws {
        #expect(try names(Self.kubernetes, "_disco._tcp.app-hs") == [
            "_disco._tcp.app-hs.ns.svc.cluster.local", "_disco._tcp.app-hs.svc.cluster.local",
            "_disco._tcp.app-hs.cluster.local", "_disco._tcp.app-hs",
        ])
    }

    @Test func enoughDotsAsksAsGivenFirst() throws {
        let list = DNSSearchList(domains: ["example.com"], ndots: 1)
        #expect(try names(list, "_raft._tcp.disco") == ["_raft._tcp.disco", "_raft._tcp.disco.example.com"])
    }

    @Test func fullyQualifiedOrNoSearchListAsksOnlyTheName() throws {
        #expect(try names(Self.kubernetes, "_raft._tcp.disco.test", fullyQualified: true) == ["_raft._tcp.disco.test"])
        #expect(try names(.none, "_raft._tcp.app-hs") == ["_raft._tcp.app-hs"])
        // Unusable domains are dropped, not fatal.
        #expect(DNSSearchList(domains: ["a..b", "."], ndots: 1).domains.isEmpty)
    }
}
