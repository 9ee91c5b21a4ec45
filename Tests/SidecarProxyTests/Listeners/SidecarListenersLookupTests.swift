import DiscoCore
import DiscoNet
import DiscoTestKit
import Glibc
@testable import SidecarProxy
import Synchronization
import Testing

/// The loop guard asks, for each new upstream connection that reaches one of the sidecar's
/// listeners, where that listener's upstreams resolve. It resolved their names there and then, a
/// blocking lookup on the connecting thread for every such connection (seconds each when DNS does
/// not answer). Names are now looked up off that thread, as each listener starts and again once
/// an answer is older than the refresh interval; the check reads the last answers.
@Suite("Sidecar proxy: the loop guard's upstream name lookups")
struct SidecarListenersLookupTests {
    /// Upstream names and what they resolve to, answers that can change, and every lookup: the
    /// host and the thread it ran on.
    final class Names: Sendable {
        let answers: Mutex<[String: [SocketAddress]]>
        let lookups = Mutex<[(host: String, thread: pthread_t)]>([])

        init(_ answers: [String: [SocketAddress]]) {
            self.answers = Mutex(answers)
        }

        func resolve(_ host: String, _ port: UInt16) -> [SocketAddress] {
            lookups.withLock { $0.append((host, pthread_self())) }
            return answers.withLock { $0[host] ?? [] }
        }

        func lookupCount(of host: String) -> Int { lookups.withLock { $0.filter { $0.host == host }.count } }
    }

    /// The HTTP listener's address, the TCP listener's, and one elsewhere.
    struct Addresses {
        let http: SocketAddress
        let tcp: SocketAddress
        let elsewhere: SocketAddress

        init() throws {
            http = try #require(SocketAddress(numericHost: "127.0.0.1", port: 18_080))
            tcp = try #require(SocketAddress(numericHost: "127.0.0.1", port: 18_081))
            elsewhere = try #require(SocketAddress(numericHost: "10.0.0.9", port: 18_080))
        }
    }

    /// The HTTP listener (index 0), upstream `tcp.test`, and a TCP listener (index 1), upstream
    /// `http.test`: a loop when `http.test` resolves to the HTTP listener.
    static func listeners(_ names: Names, _ addresses: Addresses, refreshAfter: Duration = SidecarListeners.upstreamRefreshInterval,
                          now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) -> SidecarListeners {
        let listeners = SidecarListeners(resolve: { names.resolve($0, $1) }, refreshAfter: refreshAfter, now: now)
        let httpIndex = listeners.add(name: "the HTTP proxy's listener", upstreams: [PeerAddress(host: "tcp.test", port: addresses.tcp.port)])
        let tcpIndex = listeners.add(name: "-tcp-proxy", upstreams: [PeerAddress(host: "http.test", port: addresses.http.port)])
        listeners.listening(httpIndex, on: [addresses.http])
        listeners.listening(tcpIndex, on: [addresses.tcp])
        return listeners
    }

    /// The check never looks a name up on the thread that asks (the connecting one); the loop is
    /// still found once the lookups have answered. It looked `http.test` up on the asking thread.
    @Test func theCheckDoesNotLookNamesUpOnTheConnectingThread() async throws {
        let addresses = try Addresses()
        let names = Names(["tcp.test": [addresses.tcp], "http.test": [addresses.http]])
        let listeners = Self.listeners(names, addresses)
        var askingThreads: [pthread_t] = []
        var found: [Int]?
        try await waitUntil("the loop HTTP -> TCP -> HTTP to be found") {
            askingThreads.append(pthread_self())
            found = listeners.loop(from: 0, to: addresses.tcp)
            return found != nil
        }
        #expect(found == [1, 0])
        let onAskingThread = names.lookups.withLock { lookups in
            lookups.filter { lookup in askingThreads.contains { pthread_equal($0, lookup.thread) != 0 } }.map(\.host)
        }
        #expect(onAskingThread.isEmpty, "looked up on the connecting thread: \(onAskingThread)")
    }

    /// Connections within the refresh interval share one lookup per name; the first one after it
    /// has the name looked up again, so a change, away from the sidecar or back to it, is seen.
    @Test func aNameIsLookedUpOncePerRefreshIntervalAndAChangeIsSeenAfterIt() async throws {
        let addresses = try Addresses()
        let names = Names(["tcp.test": [addresses.tcp], "http.test": [addresses.http]])
        let clock = Mutex(ContinuousClock.now)
        let listeners = Self.listeners(names, addresses, refreshAfter: .seconds(30), now: { clock.withLock { $0 } })
        try await waitUntil("the answers of the lookups made as the listeners started") {
            listeners.loop(from: 0, to: addresses.tcp) == [1, 0]
        }
        #expect(names.lookupCount(of: "http.test") == 1)
        // http.test comes to resolve elsewhere; within the interval the last answer serves.
        names.answers.withLock { $0["http.test"] = [addresses.elsewhere] }
        for _ in 0..<100 {
            #expect(listeners.loop(from: 0, to: addresses.tcp) == [1, 0])
        }
        #expect(names.lookupCount(of: "http.test") == 1, "one lookup for the 100 connections, not one each")
        clock.withLock { $0 = $0.advanced(by: .seconds(31)) }
        try await waitUntil("the answer after the interval") { listeners.loop(from: 0, to: addresses.tcp) == nil }
        #expect(names.lookupCount(of: "http.test") == 2)
        // And back to the HTTP listener (a DNS change after the start): the loop is found again.
        names.answers.withLock { $0["http.test"] = [addresses.http] }
        clock.withLock { $0 = $0.advanced(by: .seconds(31)) }
        try await waitUntil("the loop found again after the next interval") { listeners.loop(from: 0, to: addresses.tcp) == [1, 0] }
        #expect(names.lookupCount(of: "http.test") == 3)
    }
}
