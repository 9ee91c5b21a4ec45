import DiscoCore
import DiscoNet
import Foundation
import Synchronization
@testable import DiscoEtcd

/// A transport over DiscoNet's client that runs a hook (set by the test once the node exists)
/// before each request is sent: to hold a request, or to act at a precise moment of one. An
/// answer hook runs after etcd answered an exchange, before the caller sees the answer: to hold
/// an answer etcd gave at one revision until the test has made a newer one.
final class HookTransport: HTTPStreamExchanging {
    typealias Hook = @Sendable (HTTPExchangeRequest) async throws -> Void

    let inner = HTTPClient()
    private let hook = Mutex<Hook?>(nil)
    private let answerHook = Mutex<Hook?>(nil)

    func setHook(_ body: Hook?) { hook.withLock { $0 = body } }

    func setAnswerHook(_ body: Hook?) { answerHook.withLock { $0 = body } }

    func exchange(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPExchangeResponse {
        try await hook.withLock { $0 }?(request)
        let response = try await inner.exchange(request, timeout: timeout)
        try await answerHook.withLock { $0 }?(request)
        return response
    }

    func openStream(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPStreamedExchangeResponse {
        try await hook.withLock { $0 }?(request)
        return try await inner.openStream(request, timeout: timeout)
    }
}

extension HTTPExchangeRequest {
    /// Whether this is a transaction comparing `key` (an append compares `seq`, a snapshot the log key it covers).
    func isTxn(comparing key: String) -> Bool {
        guard url.hasSuffix("/v3/kv/txn"),
              let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
              let compares = object["compare"] as? [[String: Any]] else { return false }
        return compares.contains { EtcdGateway.bytes(fromBase64: $0["key"]) == Array(key.utf8) }
    }

    /// Whether this is a range read of every key under `prefix` (a resync reads the cluster's root).
    func isRange(under prefix: String) -> Bool {
        guard url.hasSuffix("/v3/kv/range"),
              let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else { return false }
        return EtcdGateway.bytes(fromBase64: object["key"]) == Array(prefix.utf8)
            && EtcdGateway.bytes(fromBase64: object["range_end"]) == EtcdKey.prefixEnd(prefix)
    }

    /// Whether this opens a watch on `key` (the engine's own watch is on the cluster's root).
    func isWatch(on key: String) -> Bool {
        guard url.hasSuffix("/v3/watch"),
              let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
              let create = object["create_request"] as? [String: Any] else { return false }
        return EtcdGateway.bytes(fromBase64: create["key"]) == Array(key.utf8)
    }
}

/// A gate a hook waits at until the test opens it or the waiter is cancelled (polling: no
/// continuation to leak).
final class Gate: Sendable {
    private let open = Mutex(false)

    func release() { open.withLock { $0 = true } }

    var isOpen: Bool { open.withLock { $0 } }

    func wait() async {
        while !open.withLock({ $0 }), !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
    }
}
