import Testing
@testable import DiscoCore

@Suite struct PeerAddressTests {
    @Test(arguments: [
        ("localhost:4001", "localhost", UInt16(4001), PeerAddress.Scheme?.none),
        ("10.0.0.1:80", "10.0.0.1", 80, nil),
        ("[::1]:4001", "::1", 4001, nil),
        ("http://h1:4001", "h1", 4001, .http),
        ("https://h1:4001/", "h1", 4001, .https),
        ("HTTP://[fe80::1%eth0]:9", "fe80::1%eth0", 9, .http),
        // Any host may be bracketed, as Go's SplitHostPort allows (`[$(POD_IP)]:4001` for
        // IPv4 and IPv6 pods alike); it prints without the brackets.
        ("[10.1.2.3]:4001", "10.1.2.3", 4001, nil),
        ("http://[host]:1", "host", 1, .http),
    ])
    func parsesAcceptedForms(input: String, host: String, port: UInt16, scheme: PeerAddress.Scheme?) throws {
        let address = try PeerAddress(parsing: input)
        #expect(address.host == host)
        #expect(address.port == port)
        #expect(address.scheme == scheme)
    }

    @Test func printsIPv6Bracketed() throws {
        let address = try PeerAddress(parsing: "[2001:db8::1]:4002")
        #expect(address.description == "[2001:db8::1]:4002")
        #expect(try PeerAddress(parsing: address.description) == address)
        #expect(address.url == "http://[2001:db8::1]:4002")
        #expect(try PeerAddress(parsing: "[10.1.2.3]:4001").description == "10.1.2.3:4001")
    }

    @Test(arguments: [
        ("127.0.0.1:8080", "127.0.0.1:8080", true),
        ("0.0.0.0:8080", "127.0.0.1:8080", true),
        ("[::]:8080", "10.1.2.3:8080", true),
        ("localhost:8080", "127.0.0.1:8080", true),
        ("LOCALHOST:8080", "[::1]:8080", true),
        ("127.0.0.1:8080", "127.0.0.2:8080", false),
        ("0.0.0.0:8080", "0.0.0.0:8081", false),
    ])
    func listenersOnTheSamePortOverlapWhenAHostMatchesOrIsAWildcard(first: String, second: String, overlaps: Bool) throws {
        let (a, b) = (try PeerAddress(parsing: first), try PeerAddress(parsing: second))
        #expect(a.listensOnSamePort(as: b) == overlaps)
        #expect(b.listensOnSamePort(as: a) == overlaps)
        #expect(PeerAddress(host: "", port: 8080).listensOnSamePort(as: PeerAddress(host: "10.0.0.1", port: 8080)))
    }

    /// Port 0 (as tests and embedding programs listen): the system picks a free port for each.
    @Test func portZeroNeverOverlaps() {
        #expect(!PeerAddress(host: "127.0.0.1", port: 0).listensOnSamePort(as: PeerAddress(host: "127.0.0.1", port: 0)))
        #expect(!PeerAddress(host: "0.0.0.0", port: 0).listensOnSamePort(as: PeerAddress(host: "127.0.0.1", port: 0)))
    }

    @Test func defaultPortFillsMissingPort() throws {
        #expect(try PeerAddress(parsing: "rqlite.local", defaultPort: 4001).port == 4001)
        #expect(try PeerAddress(parsing: "http://h", defaultPort: 80).port == 80)
    }

    @Test(arguments: [
        ("", "empty"),
        ("host", "missing port"),
        ("host:", "missing port after ':'"),
        ("host:0", "is not a number from 1 to 65535"),
        ("host:65536", "is not a number from 1 to 65535"),
        ("host:+1", "is not a number from 1 to 65535"),
        ("::1:4001", "must be bracketed"),
        ("[::1", "missing ']'"),
        ("[]:1", "missing host"),
        ("ftp://h:1", "unsupported scheme"),
        ("http://h:1/path", "a path is not allowed"),
        ("h st:1", "whitespace"),
        ("h$t:1", "invalid character"),
    ])
    func rejectsBadInputWithReason(input: String, fragment: String) {
        #expect {
            try PeerAddress(parsing: input)
        } throws: { error in
            "\(error)".contains(fragment) && "\(error)".contains("expected host:port")
        }
    }

    @Test func staticProviderDeduplicatesInOrder() async throws {
        let provider = try StaticAddressProvider(parsingJoinList: "http://b:1,a:1,b:1,,")
        #expect(try await provider.lookup().map(\.description) == ["b:1", "a:1"])
    }

    @Test(arguments: [("0.0.0.0", true), ("::", true), ("::0", true), ("0:0::0", true), ("0:0:0:0:0:0:0:0", true),
                      ("::ffff:0.0.0.0", true), ("::FFFF:0.0.0.0", true), ("::0.0.0.0", true), ("[::]", true), ("::%eth0", true),
                      ("::1", false), ("::ffff:10.0.0.1", false), ("::1:ffff:0.0.0.0", false), ("10.0.0.0", false),
                      ("0.0.0.1", false), ("localhost", false), ("fe80::", false), ("", false)])
    func unspecifiedHosts(host: String, unspecified: Bool) {
        #expect(PeerAddress.isUnspecifiedHost(host) == unspecified, "\(host)")
        // An empty host (`:4001`) is no IP address, but it listens on every interface too.
        #expect(PeerAddress.isEveryInterfaceHost(host) == (unspecified || host.isEmpty), "\(host)")
    }

    /// Listen addresses take Go's `:PORT` for every interface, besides what addresses take.
    @Test func listenAddressesTakeAnEmptyHost() throws {
        #expect(try PeerAddress(parsingListenAddress: ":4001") == PeerAddress(host: "", port: 4001))
        #expect(try PeerAddress(parsingListenAddress: "[::]:4001") == PeerAddress(host: "::", port: 4001))
        #expect(try PeerAddress(parsingListenAddress: "[10.1.2.3]:4001") == PeerAddress(host: "10.1.2.3", port: 4001))
        #expect(try PeerAddress(parsingListenAddress: "h:1") == PeerAddress(host: "h", port: 1))
        for (text, fragment) in [(":", "missing port"), (":0", "not a number from 1 to 65535"), (":x", "not a number"),
                                 ("::1", "must be bracketed"), ("http://h:1", "takes no scheme"), ("", "empty")] {
            #expect(throws: PeerAddressError.self, "\(text)") { try PeerAddress(parsingListenAddress: text) }
            do {
                _ = try PeerAddress(parsingListenAddress: text)
            } catch {
                #expect(error.reason.contains(fragment), "\(text): \(error)")
            }
        }
        let every = PeerAddress(host: "", port: 4001)
        #expect(every.description == ":4001" && every.listensOnEveryInterface && !every.hasUnspecifiedHost)
        #expect(every.listenDescription == ":4001 (every interface, IPv6 and IPv4)")
        #expect(PeerAddress(host: "::", port: 1).listenDescription == "[::]:1 (every interface, IPv6 and IPv4)")
        #expect(PeerAddress(host: "0.0.0.0", port: 1).listenDescription == "0.0.0.0:1 (every IPv4 interface)")
        #expect(PeerAddress(host: "::1", port: 1).listenDescription == "[::1]:1")
        #expect(every.listensOnSamePort(as: PeerAddress(host: "127.0.0.1", port: 4001)))
        #expect(!every.listensOnSamePort(as: PeerAddress(host: "127.0.0.1", port: 4002)))
    }
}
