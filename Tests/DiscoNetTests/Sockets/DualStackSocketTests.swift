@preconcurrency import Glibc
import DiscoNet
import DiscoTestKit
import Testing

// MARK: - Dual-stack sockets: IPv4 peers of an IPv6 wildcard socket

/// A socket on every interface (`:PORT`, `[::]:PORT`) is an IPv6 socket that takes IPv4 too. Its
/// IPv4 peers must be the IPv4 addresses they are, in bytes as well as in text (rate-limit keys,
/// equality, gossip senders), and a UDP socket must reach IPv4 addresses from it (SWIM on
/// `-raft-addr :PORT` gossips with IPv4 members).
@Suite struct DualStackSocketTests {
    /// `::` in any spelling means every interface, as an empty host does: `[::]` and then
    /// `0.0.0.0` for where IPv6 is off.
    @Test func theIPv6WildcardResolvesToBothWildcards() async throws {
        for host in ["::", "[::]", "0:0::0", "0:0:0:0:0:0:0:0"] {
            #expect(try SocketAddress.resolve(host: host, port: 4002).map(\.description) == ["[::]:4002", "0.0.0.0:4002"], "\(host)")
            #expect(try await SocketAddress.resolveAsync(host: host, port: 4002).map(\.description) == ["[::]:4002", "0.0.0.0:4002"], "\(host)")
        }
        #expect(try SocketAddress.resolve(host: "0.0.0.0", port: 1).map(\.description) == ["0.0.0.0:1"])
        #expect(try SocketAddress.resolve(host: "::1", port: 1).map(\.description) == ["[::1]:1"])
    }

    @Test func theIPv4WildcardIsCoveredOnlyByADualStackListenerOnItsPort() throws {
        let v6 = try #require(SocketAddress(numericHost: "::", port: 4001))
        let v4 = try #require(SocketAddress(numericHost: "0.0.0.0", port: 4001))
        let loopback = try #require(SocketAddress(numericHost: "::1", port: 4001))
        #expect(SocketAddress.isCoveredByDualStack(v4, bound: [v6]))
        #expect(SocketAddress.isCoveredByDualStack(v4.withPort(0), bound: [v6]))
        #expect(!SocketAddress.isCoveredByDualStack(v4, bound: [v6.withPort(4002)]))
        #expect(!SocketAddress.isCoveredByDualStack(v4, bound: [loopback]))
        #expect(!SocketAddress.isCoveredByDualStack(v6, bound: [v4]))
    }

    /// Where IPv6 is off, every interface is 0.0.0.0; a port in use stays an error.
    @Test func onlyTheIPv6WildcardFallsBackToIPv4AndNotForAPortInUse() throws {
        let every = try SocketAddress.resolve(host: "", port: 4001)
        let off = SystemError(function: "socket", errno: EAFNOSUPPORT)
        #expect(SocketAddress.fallsBackToIPv4(from: every[0], after: off, remaining: every[1...]))
        #expect(!SocketAddress.fallsBackToIPv4(from: every[0], after: SystemError(function: "bind", errno: EADDRINUSE), remaining: every[1...]))
        #expect(!SocketAddress.fallsBackToIPv4(from: every[0], after: off, remaining: []))
        let loopback = try #require(SocketAddress(numericHost: "::1", port: 4001))
        #expect(!SocketAddress.fallsBackToIPv4(from: loopback, after: off, remaining: every[1...]))
    }

    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"))
    func anAcceptedIPv4ClientIsAnIPv4Address() async throws {
        let listener = try await TCPListener.bind(host: "", port: 0)
        defer { listener.close() }
        #expect(listener.localAddress.isIPv6)
        let client = try await TCPConnection.connect(host: "127.0.0.1", port: listener.localAddress.port)
        defer { client.close() }
        let accepted = try await listener.accept()
        defer { accepted.close() }
        #expect(accepted.remoteAddress.addressBytes == [127, 0, 0, 1], "\(accepted.remoteAddress.addressBytes)")
        #expect(accepted.remoteAddress == SocketAddress(numericHost: "127.0.0.1", port: accepted.remoteAddress.port))
        #expect(accepted.remoteAddress.description == "127.0.0.1:\(accepted.remoteAddress.port)")
    }

    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"))
    func aUDPSocketOnEveryInterfaceExchangesWithIPv4AndIPv6Peers() async throws {
        let everywhere = try await UDPSocket.bind(host: "", port: 0)
        defer { everywhere.close() }
        #expect(everywhere.localAddress.isIPv6 && everywhere.localAddress.isUnspecified, "\(everywhere.localAddress)")
        let port = everywhere.localAddress.port
        for host in ["127.0.0.1", "::1"] {
            let peer = try await UDPSocket.bind(host: host, port: 0)
            defer { peer.close() }
            let target = try #require(SocketAddress(numericHost: host, port: port))
            try await peer.send(Array("ping".utf8), to: target)
            let ping = try #require(try await everywhere.receive(maxBytes: 64, timeout: .seconds(30)), "no ping from \(host)")
            // The sender is the peer's own address, bytes and all: an IPv4 peer is no ::ffff:a.b.c.d.
            #expect(ping.sender == peer.localAddress, "\(ping.sender) from \(peer.localAddress)")
            // Answered at the address it has as a peer (an IPv4 address from an IPv6 socket).
            try await everywhere.send(Array("pong".utf8), to: peer.localAddress)
            let pong = try #require(try await peer.receive(maxBytes: 64, timeout: .seconds(30)), "no pong to \(host)")
            #expect(pong.bytes == Array("pong".utf8))
        }
    }
}
