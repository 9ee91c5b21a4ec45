import DiscoNet
import Sidecar

// MARK: - Requests answered before the proxy

extension ProxyMetrics {
    /// The `route` label of requests the HTTP server answered itself, before any route could be
    /// matched (a head it could not read, one that never completed, a refused connection). No
    /// route is called so: a route's name is a JSON `name` or `routes[N]`.
    public static let edgeRouteLabel = "(edge)"

    /// Counts `response`, the answer the middleware in front of the proxy gave `request` (a rate
    /// limit's rejection, an API-key refusal, 499 for a client that left while its request was
    /// delayed), under the route the proxy would have counted it under; returns it. Only
    /// answers that never reach the proxy take this (the route is found here, once, not on the
    /// way of a request that is forwarded).
    func answeredInFront(_ request: HTTPStreamingRequest, _ response: HTTPResponse) -> HTTPResponse {
        let path = ReverseProxy.routedPath(request)
        self.request(route: routes.route(method: request.method, path: path)?.name ?? ProxyConfiguration.unroutedLabel,
                method: request.method, status: response.status)
        return response
    }

    /// Counts an answer the HTTP server made itself (``HTTPServerConfiguration/onRefusal``) under
    /// ``edgeRouteLabel``, with the method when its head was read (else an empty one).
    func serverRefused(_ refusal: HTTPServerRefusal) {
        let method = refusal.method.map { RetryMethods.isKnown($0) ? $0 : "other" } ?? ""
        count(RequestKey(route: Self.edgeRouteLabel, method: method, status: refusal.status))
    }
}
