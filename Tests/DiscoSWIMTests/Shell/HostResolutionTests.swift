import DiscoCore
import Dispatch
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Synchronization
import Testing

// MARK: - Members advertised by host name

/// Serialized: the test runs five shells with real timers on a two-core machine.
@Suite(.serialized) struct HostResolutionTests {
    /// Lookups of the one host name the test's resolver knows.
    final class Lookups: Sendable {
        let started = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
    }

    static let name = "named.test"

    /// Resolves ``name`` to loopback after `delay` (a DNS server that takes that long to
    /// answer); anything else as usual.
    static func resolver(delay: Duration?, counting lookups: Lookups) -> @Sendable (String, UInt16) async throws -> [SocketAddress] {
        { host, port in
            guard host == name else { return try await SocketAddress.resolveAsync(host: host, port: port) }
            lookups.started.add(1, ordering: .relaxed)
            defer { lookups.finished.add(1, ordering: .relaxed) }
            if let delay { try? await Task.sleep(for: delay) }
            guard let loopback = SocketAddress(numericHost: "127.0.0.1", port: port) else { throw SWIM.ShellError(.bindFailed, "no loopback") }
            return [loopback]
        }
    }

    /// Resolves ``name`` to loopback after `delay`, and cannot be cancelled (as getaddrinfo).
    static func stuckResolver(delay: Duration, counting lookups: Lookups) -> @Sendable (String, UInt16) async throws -> [SocketAddress] {
        { host, port in
            guard host == name else { return try await SocketAddress.resolveAsync(host: host, port: port) }
            lookups.started.add(1, ordering: .relaxed)
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(delay.components.seconds) * 1000)) {
                    continuation.resume()
                }
            }
            lookups.finished.add(1, ordering: .relaxed)
            return SocketAddress(numericHost: "127.0.0.1", port: port).map { [$0] } ?? []
        }
    }

    @Test("shutdown does not wait for a lookup of a member's host name that has not answered")
    func shutdownDoesNotWaitForALookup() async throws {
        try await withShells { group in
            let fast = Lookups(), stuck = Lookups()
            let quitter = try await group.start("quitter") { $0.resolveHost = Self.stuckResolver(delay: .seconds(90), counting: stuck) }
            let named = try await group.start("named") {
                $0.advertiseHost = Self.name
                $0.resolveHost = Self.resolver(delay: nil, counting: fast)
            }
            try await named.join(seeds: [quitter.address])
            try await waitUntil("the quitter to look \(Self.name) up") { stuck.started.load(ordering: .relaxed) >= 1 }
            await quitter.shutdown()
            // Shutdown flushes queued datagrams for at most a second; it returned while the lookup
            // (90 s, like a DNS server that never answers) was still waiting.
            #expect(stuck.finished.load(ordering: .relaxed) == 0)
        }
    }

    @Test("a slow lookup of one member's host name does not hold up datagrams to the others")
    func slowLookupDoesNotHoldUpOtherDatagrams() async throws {
        try await withShells { group in
            let fast = Lookups(), slow = Lookups()
            // Suspicion lasts 3–9 s (the default 0.8–2.4 s): a loaded machine that starves one
            // shell's event loop for a second must not fail the test, while a member whose
            // datagrams all waited for the 15 s lookup would still be declared dead.
            var settings = SWIM.Settings.testing
            settings.suspicionMultiplier = 15
            var shells: [SWIM.Shell] = []
            for index in 0..<3 {
                let shell = try await group.start("h\(index)", settings: settings) { $0.resolveHost = Self.resolver(delay: nil, counting: fast) }
                if let first = shells.first { try await shell.join(seeds: [first.address]) }
                shells.append(shell)
            }
            // This member's DNS server takes 15 s to answer for the name (as when a lookup times out).
            let stalled = try await group.start("stalled", settings: settings) { $0.resolveHost = Self.resolver(delay: .seconds(15), counting: slow) }
            try await stalled.join(seeds: [shells[0].address])
            shells.append(stalled)
            try await waitForConvergence(shells)
            let observers = shells.prefix(3).map { EventRecorder($0) }

            // A member advertised by name joins; the stalled member learns of it and sends to it.
            let named = try await group.start("named", settings: settings) {
                $0.advertiseHost = Self.name
                $0.resolveHost = Self.resolver(delay: nil, counting: fast)
            }
            try await named.join(seeds: [shells[0].address])
            try await waitUntil("the stalled member's lookup of \(Self.name) to end", timeout: .seconds(60)) {
                slow.finished.load(ordering: .relaxed) >= 1
            }
            try await waitForConvergence(shells + [named], timeout: .seconds(60))
            // Datagrams to the others went out while the lookup was pending: its acks reached
            // them, so nobody declared it dead.
            for observer in observers {
                let names = observer.names(about: stalled.id)
                #expect(!names.contains("dead"), "\(names)")
            }
        }
    }
}
