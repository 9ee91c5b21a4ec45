import DiscoCore
import Foundation
import Synchronization

// MARK: - ConsulKVDouble

/// A Consul agent stand-in: ``ConsulKVModel`` behind a lock, answering ``HTTPExchanging``
/// requests in process (and, through DiscoNet's server, over real HTTP).
///
/// Time is the process's monotonic clock unless a test injects its own, so session expiry can be
/// driven by hand. Blocking queries wait until the model's index moves or their wait ends.
public final class ConsulKVDouble: HTTPExchanging {
    let model: Mutex<ConsulKVModel>
    let now: @Sendable () -> Duration
    /// When false, every request fails as if the agent were down.
    public let reachable = Atomic<Bool>(true)

    public init(token: String? = nil, now: (@Sendable () -> Duration)? = nil) {
        self.model = Mutex(ConsulKVModel(token: token))
        if let now {
            self.now = now
        } else {
            let origin = ContinuousClock.now
            self.now = { ContinuousClock.now - origin }
        }
    }

    /// The agent address to put in settings; requests may name any host.
    public var address: String { "consul-double.invalid:8500" }

    /// Answers one request, waiting for blocking queries.
    public func handle(_ request: ConsulKVModel.Request) async throws -> ConsulKVModel.Response {
        var request = request
        var deadline: ContinuousClock.Instant?
        while true {
            let outcome = model.withLock { $0.handle(request, now: now()) }
            switch outcome {
            case .respond(let response):
                return response
            case .wait(let afterIndex, let maxWait):
                let end = deadline ?? ContinuousClock.now + maxWait
                deadline = end
                while model.withLock({ $0.index }) <= afterIndex, ContinuousClock.now < end {
                    try await Task.sleep(for: .milliseconds(5))
                }
                if ContinuousClock.now >= end { request.query.removeAll { $0.name == "index" } }
            }
        }
    }

    public func exchange(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPExchangeResponse {
        guard reachable.load(ordering: .relaxed) else {
            throw DiscoveryError(.unreachable, server: address, record: request.url, detail: "connection refused (double offline)")
        }
        guard let components = URLComponents(string: request.url) else {
            return HTTPExchangeResponse(status: 400, body: Array("bad URL \(request.url)".utf8))
        }
        let query = (components.queryItems ?? []).map { (name: $0.name, value: $0.value ?? "") }
        let response = try await handle(ConsulKVModel.Request(
            method: request.method, path: components.percentEncodedPath.removingPercentEncoding ?? components.path,
            query: query, headers: request.headers, body: request.body))
        return HTTPExchangeResponse(status: response.status, headers: response.headers, body: response.body)
    }
}
