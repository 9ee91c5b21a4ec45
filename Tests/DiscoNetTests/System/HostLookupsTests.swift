import Dispatch
import DiscoTestKit
import Synchronization
import Testing
@testable import DiscoNet

/// A DNS server that does not answer makes `getaddrinfo` block for seconds, and the call cannot
/// be cancelled: lookups of one name must share one call, and a caller's timeout (or
/// cancellation) must end its wait while the call goes on.
@Suite struct HostLookupsTests {
    /// A stand-in for `getaddrinfo` that counts its calls and blocks each one until the test
    /// lets it through.
    final class BlockingResolver: Sendable {
        let answer = [SocketAddress(bytes: [10, 0, 0, 7], port: 0, scopeID: 0)]
        let started = Atomic<Int>(0)
        private let gate = DispatchSemaphore(value: 0)

        func lookup(_ host: String) -> Result<[SocketAddress], AddressResolutionError> {
            started.add(1, ordering: .sequentiallyConsistent)
            gate.wait()
            return .success(answer)
        }

        /// Lets one blocked (or the next) call return.
        func release() { gate.signal() }

        var calls: Int { started.load(ordering: .sequentiallyConsistent) }
    }

    /// Where a task leaves how its lookup or connect ended, for polling without awaiting it
    /// (a wait that does not end would hang the test instead of failing it).
    final class Ended<T: Sendable>: Sendable {
        let result = Mutex<Result<T, any Error>?>(nil)

        func run(_ work: @escaping @Sendable () async throws -> T) -> Task<Void, Never> {
            Task {
                let outcome: Result<T, any Error>
                do { outcome = .success(try await work()) } catch { outcome = .failure(error) }
                result.withLock { $0 = outcome }
            }
        }

        var isDone: Bool { result.withLock { $0 != nil } }
        var error: (any Error)? {
            result.withLock { result in
                guard case .failure(let error) = result else { return nil }
                return error
            }
        }
    }

    @Test func concurrentLookupsOfOneNameMakeOneCall() async throws {
        let fake = BlockingResolver()
        let lookups = HostLookups { fake.lookup($0) }
        // As a proxy's pool opening connections to one upstream for many clients at once.
        let callers = (0..<16).map { index in
            Task {
                try await SocketAddress.resolveAsync(host: index % 2 == 0 ? "upstream.disco.test" : "Upstream.Disco.Test",
                                                     port: 8080, timeout: .seconds(120), lookups: lookups)
            }
        }
        // The call starts on its own thread, possibly after the callers have gathered on it.
        try await waitUntil("every caller waits for the one call, and it has started") {
            lookups.waiting(for: "upstream.disco.test") == 16 && fake.calls >= 1
        }
        #expect(fake.calls == 1)
        #expect(lookups.running == 1)
        fake.release()
        for caller in callers {
            #expect(try await caller.value.map(\.description) == ["10.0.0.7:8080"])
        }
        #expect(fake.calls == 1)
        #expect(lookups.running == 0)
    }

    @Test func aCallerTimesOutWhileTheCallIsBlockedAndALaterCallerGetsTheAnswer() async throws {
        let fake = BlockingResolver()
        let lookups = HostLookups { fake.lookup($0) }
        // Whatever fails, no call stays blocked after the test.
        defer { for _ in 0..<3 { fake.release() } }
        // Polled rather than awaited: a wait the timeout does not end would hang the test.
        let firstCaller = Ended<[SocketAddress]>()
        _ = firstCaller.run {
            try await SocketAddress.resolveAsync(host: "stuck.disco.test", port: 53, timeout: .milliseconds(200), lookups: lookups)
        }
        try await waitUntil("the first caller's timeout ends its wait while the call is blocked", timeout: .seconds(20)) {
            firstCaller.isDone
        }
        let first = firstCaller.error as? AddressResolutionError
        #expect(first?.kind == .timedOut, "\(String(describing: firstCaller.error))")
        #expect(first?.host == "stuck.disco.test")
        #expect(first?.reason.hasPrefix("getaddrinfo did not answer within 200ms (waited ") == true, "\(String(describing: first))")

        // The call is still blocked and already older than the next caller's timeout: that
        // caller fails at once, naming the call, and starts no second one.
        let secondCaller = Ended<[SocketAddress]>()
        _ = secondCaller.run {
            try await SocketAddress.resolveAsync(host: "stuck.disco.test", port: 53, timeout: .milliseconds(200), lookups: lookups)
        }
        try await waitUntil("the second caller gives up while the call is blocked", timeout: .seconds(20)) { secondCaller.isDone }
        let second = secondCaller.error as? AddressResolutionError
        #expect(second?.kind == .timedOut, "\(String(describing: secondCaller.error))")
        #expect(second?.reason.contains("the getaddrinfo call for it has run for") == true, "\(String(describing: second))")
        try await waitUntil("the call has started on its own thread") { fake.calls >= 1 }
        #expect(fake.calls == 1)
        #expect(lookups.running == 1)

        // Once the call returns, a later caller starts a fresh one and gets its answer.
        fake.release()
        try await waitUntil("the blocked call returns") { lookups.running == 0 }
        fake.release()
        let later = try await SocketAddress.resolveAsync(host: "stuck.disco.test", port: 53, timeout: .seconds(120), lookups: lookups)
        #expect(later.map(\.description) == ["10.0.0.7:53"])
        #expect(fake.calls == 2)
    }

    @Test func cancellingACallerEndsItsWaitWhileTheCallIsBlocked() async throws {
        let fake = BlockingResolver()
        let lookups = HostLookups { fake.lookup($0) }
        defer { fake.release() }
        let ended = Ended<[SocketAddress]>()
        let caller = ended.run {
            try await SocketAddress.resolveAsync(host: "stuck.disco.test", port: 80, timeout: .seconds(120), lookups: lookups)
        }
        try await waitUntil("the caller waits for the call") { lookups.waiting(for: "stuck.disco.test") == 1 }
        // A request's deadline (HTTPClient, the SWIM shell's timeouts) or a shutdown cancels it.
        caller.cancel()
        try await waitUntil("the cancelled caller stops waiting while the call is blocked") { ended.isDone }
        #expect(ended.error is CancellationError, "\(String(describing: ended.error))")
        try await waitUntil("the call has started on its own thread") { fake.calls >= 1 }
        #expect(fake.calls == 1)
        #expect(lookups.running == 1)
    }

    @Test func connectsTimeoutCoversABlockedLookup() async throws {
        let fake = BlockingResolver()
        let lookups = HostLookups { fake.lookup($0) }
        defer { fake.release() }
        let ended = Ended<TCPConnection>()
        _ = ended.run {
            try await TCPConnection.connect(host: "upstream.disco.test", port: 9, timeout: .milliseconds(300), group: nil,
                                            transport: PlainTransportFactory(), excluding: nil, lookups: lookups)
        }
        // The lookup never returns while the test holds it: only the connect timeout can end it.
        try await waitUntil("the connect gives up while the lookup is blocked", timeout: .seconds(20)) { ended.isDone }
        let error = try #require(ended.error as? AddressResolutionError, "\(String(describing: ended.error))")
        #expect(error.kind == .timedOut)
        #expect(error.description.hasPrefix("cannot resolve host 'upstream.disco.test': getaddrinfo did not answer within 300ms"),
                "\(error)")
        try await waitUntil("the call has started on its own thread") { fake.calls >= 1 }
        #expect(fake.calls == 1)
    }

    @Test func eachAddressGetsAShareOfWhatIsLeft() {
        #expect(TCPConnection.share(of: .seconds(10), among: 2) == .seconds(5))
        #expect(TCPConnection.share(of: .seconds(3), among: 3) == .seconds(2))
        #expect(TCPConnection.share(of: .seconds(1), among: 3) == .seconds(1))
        #expect(TCPConnection.share(of: .seconds(5), among: 1) == .seconds(5))
    }
}
