import Dispatch
import DiscoTestKit
import Synchronization
import Testing
@testable import DiscoDNS

/// The system resolver's calls cannot be cancelled: a name whose call hangs must hold one thread,
/// however many lookups ask for it.
@Suite struct SystemAddressResolverTests {
    /// A stand-in for `getaddrinfo` that counts its calls and, for `stuckName`, blocks until
    /// the test lets one call through.
    final class BlockingResolver: Sendable {
        let stuckName: String
        let answer: [DNSIPAddress]
        let started = Atomic<Int>(0)
        private let gate = DispatchSemaphore(value: 0)

        init(stuckName: String, answer: [DNSIPAddress]) {
            self.stuckName = stuckName
            self.answer = answer
        }

        func lookup(_ name: String) -> Result<[DNSIPAddress], DNSLookupError> {
            started.add(1, ordering: .sequentiallyConsistent)
            if name == stuckName { gate.wait() }
            return .success(answer)
        }

        /// Lets one blocked (or the next) call of `stuckName` return.
        func release() { gate.signal() }
    }

    let answer = [DNSIPAddress(bytes: [10, 0, 0, 1])].compactMap { $0 }

    @Test func aHungCallIsNotStartedAgainByTheNextRoundButNamed() async throws {
        let calls = SystemResolverCalls()
        let fake = BlockingResolver(stuckName: "peers.disco.test", answer: answer)
        let resolver = SystemAddressResolver(timeout: .milliseconds(200), calls: calls, lookup: { fake.lookup($0) })
        // Lookups that must succeed get all the time a loaded machine may take to run a call.
        let patient = SystemAddressResolver(timeout: .seconds(60), calls: calls, lookup: { fake.lookup($0) })
        let name = try DNSName(parsing: "peers.disco.test")

        let first = await #expect(throws: DNSLookupError.self) { try await resolver.addresses(of: name) }
        #expect(first?.code == .timeout)
        #expect(first?.detail == "getaddrinfo did not return within 0.2 seconds", "\(String(describing: first))")

        // The next round finds the call still running past its timeout: no second thread.
        let second = await #expect(throws: DNSLookupError.self) { try await resolver.addresses(of: name) }
        #expect(second?.code == .timeout)
        #expect(second?.detail.contains("the getaddrinfo call for peers.disco.test started") == true, "\(String(describing: second))")
        #expect(second?.detail.contains("has not returned") == true, "\(String(describing: second))")
        #expect(fake.started.load(ordering: .sequentiallyConsistent) == 1)
        #expect(calls.running == 1)

        // Another name is not held up by it.
        #expect(try await patient.addresses(of: try DNSName(parsing: "other.disco.test")) == answer)
        #expect(fake.started.load(ordering: .sequentiallyConsistent) == 2)

        // Once the hung call returns, the next round starts a fresh one.
        fake.release()
        try await waitUntil("the hung call returns") { calls.running == 0 }
        fake.release()
        #expect(try await patient.addresses(of: name) == answer)
        #expect(fake.started.load(ordering: .sequentiallyConsistent) == 3)
    }

    @Test func concurrentLookupsOfOneNameShareOneCall() async throws {
        let calls = SystemResolverCalls()
        let fake = BlockingResolver(stuckName: "peers.disco.test", answer: answer)
        // Two resolvers, as two discovery rounds or providers would build them.
        let resolvers = (0..<2).map { _ in SystemAddressResolver(timeout: .seconds(120), calls: calls, lookup: { fake.lookup($0) }) }
        let name = try DNSName(parsing: "peers.disco.test")
        let lookups = (0..<4).map { index in
            Task { try await resolvers[index % 2].addresses(of: name) }
        }
        try await waitUntil("every lookup waits for the one call") { calls.waiting(for: "peers.disco.test") == 4 }
        #expect(fake.started.load(ordering: .sequentiallyConsistent) == 1)
        fake.release()
        for lookup in lookups { #expect(try await lookup.value == answer) }
        #expect(fake.started.load(ordering: .sequentiallyConsistent) == 1)
        #expect(calls.running == 0)
    }

    @Test func theRealResolverStillFindsLocalhost() async throws {
        let addresses = try await SystemAddressResolver(timeout: .seconds(30)).addresses(of: try DNSName(parsing: "localhost"))
        #expect(addresses.contains(try #require(DNSIPAddress(bytes: [127, 0, 0, 1]))))
    }
}
