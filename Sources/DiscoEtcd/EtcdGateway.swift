import DiscoCore
import Foundation
import Synchronization

// MARK: - EtcdGateway

/// A client for etcd's v3 JSON gateway (`/v3/...`), tolerant of the gateway's habits: 64-bit
/// numbers arrive as strings, zero values (`succeeded: false`, empty `kvs`, `count: 0`) are
/// omitted, and keys and values are base64.
///
/// Requests go to the endpoints in order, starting with the last one that answered; an endpoint
/// that cannot be reached or times out is skipped for the next. Authentication (`username`,
/// `password`) fetches a token once and again when etcd reports it invalid.
public final class EtcdGateway: Sendable {
    public let endpoints: [String]
    let username: String?
    let password: String?
    let timeout: Duration
    let transport: any HTTPExchanging
    /// The endpoint that answered last, and the auth token, shared by concurrent calls.
    let state = Mutex<(preferred: Int, token: String?)>((0, nil))

    /// - Parameters:
    ///   - endpoints: base URLs such as `http://127.0.0.1:2379` (a missing scheme means http).
    ///   - timeout: per-request deadline (`dial-timeout` in disco-config).
    public init(endpoints: [String], username: String? = nil, password: String? = nil,
                timeout: Duration = .seconds(5), transport: any HTTPExchanging) {
        self.endpoints = endpoints.map { $0.contains("://") ? $0 : "http://\($0)" }
        self.username = username
        self.password = password
        self.timeout = timeout
        self.transport = transport
    }

    /// POSTs a JSON body to a gateway path and returns the decoded JSON object.
    /// - Parameters:
    ///   - record: what the call concerns, for error messages.
    ///   - repeatable: whether etcd may carry the request out twice (false for transactions:
    ///     one whose answer was lost is not sent to another endpoint, whose compare would then
    ///     see the first one's writes).
    public func call(_ path: String, _ body: [String: Any], record: String, repeatable: Bool = true) async throws -> [String: Any] {
        let payload = try JSONSerialization.data(withJSONObject: body)
        for attempt in 0..<2 {
            let (response, server) = try await send(path, Array(payload), record: record, repeatable: repeatable)
            let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
            if response.status == 200, let object { return object }
            let message = (object?["message"] as? String) ?? (object?["error"] as? String) ?? response.text
            if message.contains("invalid auth token") && attempt == 0 && username != nil {
                state.withLock { $0.token = nil }
                continue
            }
            let kind: DiscoveryError.Kind = (response.status == 401 || message.contains("authentication failed")
                || message.contains("permission denied") || message.contains("user name is empty"))
                ? .unauthorized : .serverError
            throw DiscoveryError(kind, server: server, record: record, detail: "HTTP \(response.status): \(message)")
        }
        throw DiscoveryError(.unauthorized, server: endpoints.joined(separator: ","), record: record,
                             detail: "etcd rejected the auth token twice")
    }

    /// Sends to the preferred endpoint, failing over to the others on transport errors.
    func send(_ path: String, _ body: [UInt8], record: String, repeatable: Bool = true) async throws -> (HTTPExchangeResponse, String) {
        try await withFailover(record: record, repeatable: repeatable) { endpoint in
            var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
            if path != "/v3/auth/authenticate", let auth = try await self.authToken(endpoint: endpoint, record: record) {
                headers.append(("Authorization", auth))
            }
            return try await self.transport.exchange(
                HTTPExchangeRequest(method: "POST", url: endpoint + path, headers: headers, body: body), timeout: self.timeout)
        }
    }

    /// Runs `attempt` against the preferred endpoint, then the others in turn on transport
    /// errors; an endpoint that answers becomes the preferred one. Authorization and server
    /// errors are answers, thrown at once. A request that is not `repeatable` goes to another
    /// endpoint only when it certainly never reached this one; otherwise its error is thrown (the
    /// outcome is unknown) and the next call starts with another endpoint.
    /// Returns the result with the endpoint that gave it.
    func withFailover<Result>(record: String, repeatable: Bool = true,
                              _ attempt: (String) async throws -> Result) async throws -> (Result, String) {
        var failures: [String] = []
        var lastKind = DiscoveryError.Kind.unreachable
        let preferred = state.withLock { $0.preferred }
        for offset in 0..<endpoints.count {
            let index = (preferred + offset) % endpoints.count
            let endpoint = endpoints[index]
            do {
                let result = try await attempt(endpoint)
                state.withLock { $0.preferred = index }
                return (result, endpoint)
            } catch let error as DiscoveryError where error.kind == .unauthorized || error.kind == .serverError {
                throw error
            } catch {
                if let error = error as? DiscoveryError { lastKind = error.kind }
                if !repeatable, (error as? DiscoveryError)?.mayHaveReachedServer ?? true {
                    if endpoints.count > 1 { skip(endpoint) }
                    throw error
                }
                failures.append("\(endpoint): \(error)")
            }
        }
        throw DiscoveryError(lastKind, server: endpoints.joined(separator: ","), record: record,
                             detail: "no etcd endpoint answered (\(failures.joined(separator: "; ")))")
    }

    func authToken(endpoint: String, record: String) async throws -> String? {
        guard let username, let password else { return nil }
        if let token = state.withLock({ $0.token }) { return token }
        let body = try JSONSerialization.data(withJSONObject: ["name": username, "password": password])
        let response = try await transport.exchange(
            HTTPExchangeRequest(method: "POST", url: endpoint + "/v3/auth/authenticate",
                                headers: [("Content-Type", "application/json")], body: Array(body)), timeout: timeout)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        guard response.status == 200, let fresh = object?["token"] as? String else {
            let message = (object?["message"] as? String) ?? (object?["error"] as? String) ?? response.text
            throw DiscoveryError(.unauthorized, server: endpoint, record: record,
                                 detail: "authenticating as \(username.debugDescription) failed: \(message)")
        }
        state.withLock { $0.token = fresh }
        return fresh
    }

    // MARK: Value helpers for the gateway's JSON

    /// Reads an int64 the gateway may send as a string or a number; missing means zero.
    public static func int64(_ value: Any?) -> Int64 {
        if let text = value as? String { return Int64(text) ?? 0 }
        if let number = value as? NSNumber { return number.int64Value }
        return 0
    }

    public static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    public static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    public static func bytes(fromBase64 value: Any?) -> [UInt8]? {
        guard let text = value as? String else { return value == nil ? [] : nil }
        return Data(base64Encoded: text).map(Array.init)
    }
}
