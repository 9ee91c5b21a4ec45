import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Sidecar
import SidecarProxy
import Synchronization
import Testing

// MARK: - A keyed write whose client leaves while the keys are confirmed

/// A write this sidecar passes to its own upstream first waits until its keys are confirmed
/// current (a read barrier). A client that closes its connection meanwhile ends the request
/// (the server cancels its task): that is a 499, as anywhere else a client leaves, not a sign
/// of stale keys. Before, the cancelled barrier was answered 503 "stale", counted in
/// `disco_proxy_auth_failures_total{reason="stale"}` and warned of ("the API keys may be
/// stale"), or, when the barrier came through all the same, the body could not be read: 400.
@Suite("Sidecar proxy: a keyed write whose client leaves while its keys are confirmed")
struct APIKeyClientLeavesTests {
    static let key = "a-key-of-app1-long-enough"

    /// The barrier cannot complete (as with the leader cut off) and ends when the request's
    /// task is cancelled, as ``Node/readBarrier(timeout:)`` then throws.
    @Test func aClientThatLeavesWhileTheBarrierWaitsIs499NotStale() async throws {
        let keys = try HeldBarrierKeys(endsWhenCancelled: true, key: Self.key)
        try await withKeyedProxy(keys) { proxy, upstream, log in
            try await leave(proxy, keys)
            try await waitUntil("the write to be counted") { counted(proxy) == 1 }
            #expect(proxy.metrics.requests(status: 499) == 1, "a client that left is a 499, not a 503 stale")
            #expect(proxy.metrics.authFailures == 0, "a client that left is no auth failure")
            #expect(!log.lines.contains { $0.contains("may be stale") }, "\(log.lines)")
            #expect(upstream.requests.isEmpty)
        }
    }

    /// The barrier completes just after the client left: the body went with the connection.
    @Test func aClientThatLeavesAsTheBarrierCompletesIs499Not400() async throws {
        let keys = try HeldBarrierKeys(endsWhenCancelled: false, key: Self.key)
        try await withKeyedProxy(keys) { proxy, upstream, _ in
            try await leave(proxy, keys)
            try await waitUntil("the write's task to be cancelled") { keys.cancelled }
            keys.finish(.caughtUp)
            try await waitUntil("the write to be counted") { counted(proxy) == 1 }
            #expect(proxy.metrics.requests(status: 499) == 1, "a client that left is a 499, not a 400")
            #expect(proxy.metrics.authFailures == 0)
            #expect(upstream.requests.isEmpty)
        }
    }

    /// A client still there when the barrier gives up (it timed out) gets the 503 "stale",
    /// counted and warned of as before.
    @Test func aConnectedClientWhoseBarrierTimesOutGets503Stale() async throws {
        let keys = try HeldBarrierKeys(endsWhenCancelled: true, key: Self.key)
        try await withKeyedProxy(keys) { proxy, upstream, log in
            let client = HTTPClient()
            async let answer = client.send(HTTPClientRequest(method: "POST", url: proxy.url + "/tx",
                                                             headers: ["app_id": "app1", "app_key": Self.key], body: Array("{}".utf8)))
            try await waitUntil("the write to wait for its keys") { keys.waits == 1 }
            keys.finish(.stale("the leader did not answer within 5s"))
            let response = try await answer
            #expect(response.status == 503)
            #expect(try json(response)["reason"]?.stringValue == "stale")
            #expect(proxy.metrics.authFailures == 1)
            #expect(proxy.metrics.requests(status: 503) == 1)
            #expect(proxy.metrics.requests(status: 499) == 0)
            #expect(log.lines.contains { $0.contains("may be stale") }, "\(log.lines)")
            #expect(upstream.requests.isEmpty)
            await client.shutdown()
        }
    }

    /// Requests counted with a status a write that waited for its keys may end with.
    private func counted(_ proxy: SidecarProxyServer) -> Int {
        [400, 499, 503].map { proxy.metrics.requests(status: $0) }.reduce(0, +)
    }

    /// Sends a keyed write, whole, waits until it waits for its keys, and closes the connection.
    private func leave(_ proxy: SidecarProxyServer, _ keys: HeldBarrierKeys) async throws {
        let connection = try await TCPConnection.connect(to: try #require(proxy.localAddress))
        try await connection.write(Array(("POST /tx HTTP/1.1\r\nHost: test\r\napp_id: app1\r\napp_key: \(Self.key)\r\n"
            + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}").utf8))
        try await waitUntil("the write to wait for its keys") { keys.waits == 1 }
        connection.close()
    }

    /// A proxy with API keys on, fronting a recording upstream, its log kept from level info.
    private func withKeyedProxy(_ keys: HeldBarrierKeys,
                                _ body: (SidecarProxyServer, RecordingUpstream, MemoryLogSink) async throws -> Void) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.apiKeys = APIKeySettings(enabled: true)
        let log = MemoryLogSink()
        let proxy = try await SidecarProxyServer.start(configuration: configuration, nodeID: "n1", writer: FixedWriter(.local), keys: keys,
                                                       logger: Logger(label: "sidecar-test", level: .info, handler: LogfmtHandler(sink: log)))
        do {
            try await body(proxy, upstream, log)
        } catch {
            keys.finish(.stale("the test ended"))
            await proxy.shutdown()
            await upstream.stop()
            throw error
        }
        await proxy.shutdown()
        await upstream.stop()
    }
}

// MARK: - A barrier the test holds

/// API keys whose write barrier the test holds: `writeCurrency()` waits until the test
/// ends it (``finish(_:)``), as a barrier that cannot reach the leader waits for its timeout.
/// With `endsWhenCancelled` a cancelled wait ends at once with stale keys, as
/// ``Node/readBarrier(timeout:)`` throws when its task is cancelled; without, it waits on and
/// then answers as the test says (a barrier that came through just as its client left).
final class HeldBarrierKeys: APIKeyStore {
    private struct State {
        var waiter: CheckedContinuation<APIKeyCurrency, Never>?
        var outcome: APIKeyCurrency?
        var cancelled = false
        var waits = 0
    }

    private let state = Mutex(State())
    private let records: InMemoryAPIKeyStore
    private let endsWhenCancelled: Bool

    /// The store holds one key, `key` of `app1`.
    init(endsWhenCancelled: Bool, key: String) throws {
        self.endsWhenCancelled = endsWhenCancelled
        records = InMemoryAPIKeyStore([try APIKeyRecord.hashing(appID: "app1", key: key)])
    }

    /// Writes that have begun to wait.
    var waits: Int { state.withLock { $0.waits } }
    /// Whether a waiting write's task was cancelled.
    var cancelled: Bool { state.withLock { $0.cancelled } }

    func record(appID: String) -> APIKeyRecord? { records.record(appID: appID) }

    func writeCurrency() async -> APIKeyCurrency {
        let endsWhenCancelled = self.endsWhenCancelled
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now: APIKeyCurrency? = self.state.withLock { state in
                    state.waits += 1
                    if let outcome = state.outcome { return outcome }
                    if state.cancelled && endsWhenCancelled { return .stale("the wait for the leader was cancelled") }
                    state.waiter = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> CheckedContinuation<APIKeyCurrency, Never>? in
                state.cancelled = true
                guard endsWhenCancelled else { return nil }
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: .stale("the wait for the leader was cancelled"))
        }
    }

    /// Ends the wait (this one and any later) with `outcome`.
    func finish(_ outcome: APIKeyCurrency) {
        let waiter = state.withLock { state -> CheckedContinuation<APIKeyCurrency, Never>? in
            state.outcome = outcome
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: outcome)
    }
}
