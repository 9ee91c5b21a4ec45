import DiscoCore
import DiscoNet
import Sidecar

// MARK: - API keys

/// Requires an API key, 3scale style (`app_id` and `app_key` headers), for the methods that
/// need one: missing → 401, unknown, wrong or revoked → 403, each a JSON error saying which and
/// what to send. Keys are compared as salted hashes in constant time (``APIKeyRecord``). The
/// proxy strips both headers before a request reaches an upstream (a writer's sidecar still
/// gets them, to check them itself). Where the request ends at this sidecar's own upstream the
/// proxy asks again (``checkCurrent(_:use:)``): a write is checked against keys confirmed
/// current, since this sidecar is then the writer and its check counts; a read is refused (503)
/// when the keys may be more than a bounded time stale.
public struct APIKeyMiddleware: HTTPMiddleware {
    let settings: APIKeySettings
    let store: any APIKeyStore
    let metrics: ProxyMetrics
    let logger: Logger

    public init(settings: APIKeySettings, store: any APIKeyStore, metrics: ProxyMetrics, logger: Logger) {
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.logger = logger
    }

    public func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        guard settings.requiresKey(method: request.method) else { return try await next(request) }
        if let refusal = check(request) { return metrics.answeredInFront(request, refusal) }
        return try await next(request)
    }

    /// Checks the key of a request whose method needs one: nil when it is accepted, else the
    /// refusal to answer (401, 403), counted and logged.
    /// The challenge a 401 carries (RFC 9110 §11.6.1: a 401 must name how to authenticate). No
    /// registered scheme sends a key in `app_id`/`app_key` headers, so the scheme is `AppKey`,
    /// and its parameters name the two headers.
    static let challenge: HTTPHeaders = {
        var headers = HTTPHeaders()
        headers.set(name: "WWW-Authenticate", value: #"AppKey realm="disco-sidecar", "#
            + #"app_id_header="\#(APIKeySettings.appIDHeader)", app_key_header="\#(APIKeySettings.appKeyHeader)""#)
        return headers
    }()

    func check(_ request: HTTPStreamingRequest) -> HTTPResponse? {
        check(method: request.method, path: request.path, headers: request.headers, remoteAddress: request.remoteAddress)
    }

    /// ``check(_:)`` from the parts of the request it reads (`path` only for the log). It never
    /// waits (the store answers from memory), so the proxy's inline lane runs it on the loop
    /// thread.
    func check(method: String, path: @autoclosure () -> String, headers: HTTPHeaders, remoteAddress: SocketAddress?) -> HTTPResponse? {
        let id = APIKeySettings.appIDHeader
        let key = APIKeySettings.appKeyHeader
        guard let appID = headers[id], !appID.isEmpty, let appKey = headers[key], !appKey.isEmpty else {
            metrics.authFailure("missing")
            return ProxyErrorResponse.make(401, "\(method) needs an API key: send the \(id) and \(key) headers",
                                           fields: [("reason", "missing")], headers: Self.challenge)
        }
        guard let record = store.record(appID: appID) else {
            return refuse("unknown", "the \(id) \(appID.prefix(64).debugDescription) has no API key", method, path(), remoteAddress)
        }
        guard record.matches(appKey) else {
            return refuse("wrong", "the \(key) is not the key of \(id) \(appID.prefix(64).debugDescription)", method, path(), remoteAddress)
        }
        guard !record.revoked else {
            return refuse("revoked", "the API key of \(id) \(appID.prefix(64).debugDescription) was revoked", method, path(), remoteAddress)
        }
        return nil
    }

    /// For a request bound for this sidecar's own upstream (the routing decision is made): nil
    /// when its method needs no key, or the keys it was checked against may be trusted for `use`
    /// and (when they were brought up to date for it, as for a write) its key passes again;
    /// else the refusal: 503 with `reason` `stale` saying why, or the check's 403. A wait for
    /// the keys cut short because the client left (the server cancelled the request's task) is
    /// no sign of stale keys: the request ends as 499, with no auth failure counted or warned of.
    func checkCurrent(_ request: HTTPStreamingRequest, use: APIKeyUse) async -> HTTPResponse? {
        guard settings.requiresKey(method: request.method) else { return nil }
        switch await store.currency(for: use) {
        case .current:
            return nil
        case .caughtUp:
            return check(request)
        case .stale(let problem):
            if Task.isCancelled, await request.clientHasLeft() {
                logger.info("\(request.method) \(request.path): the client closed the connection while the API keys were confirmed "
                    + "current; not sent on (499)")
                return ProxyErrorResponse.clientClosed(while: "the API keys its request needs were confirmed current")
            }
            return staleRefusal(problem, use: use, method: request.method, path: request.path)
        }
    }

    /// ``checkCurrent(_:use:)`` for a read whose key was checked, from the parts of the request
    /// it reads: it asks the store's ``APIKeyStore/readCurrency()``, which never waits, so the
    /// proxy's inline lane runs it on the loop thread.
    func checkCurrentForRead(method: String, path: @autoclosure () -> String, headers: HTTPHeaders,
                             remoteAddress: SocketAddress?) -> HTTPResponse? {
        switch store.readCurrency() {
        case .current:
            return nil
        case .caughtUp:
            return check(method: method, path: path(), headers: headers, remoteAddress: remoteAddress)
        case .stale(let problem):
            return staleRefusal(problem, use: .read, method: method, path: path())
        }
    }

    /// The 503 for keys that may be too stale for `use`, counted and logged.
    private func staleRefusal(_ problem: String, use: APIKeyUse, method: String, path: String) -> HTTPResponse {
        metrics.authFailure("stale")
        logger.warning("\(method) \(path) refused: the API keys may be stale (\(problem))")
        let what = use == .write ? "a write needs keys confirmed current with the cluster's leader"
            : "a request that needs a key is served only with keys at most a bounded time behind the cluster's"
        return ProxyErrorResponse.make(503, "\(what), and this sidecar cannot vouch for its own: \(problem); retry, or send it to "
            + "another sidecar", fields: [("reason", "stale")])
    }

    private func refuse(_ reason: String, _ message: String, _ method: String, _ path: String, _ remoteAddress: SocketAddress?) -> HTTPResponse {
        metrics.authFailure(reason)
        logger.info("API key refused (\(reason)) for \(method) \(path)",
                    metadata: ["client": .string(remoteAddress?.host ?? "unknown")])
        return ProxyErrorResponse.make(403, message, fields: [("reason", reason)])
    }
}
