import DiscoCore
import DiscoNet
import Sidecar

// MARK: - The reverse proxy

/// One of this sidecar's own upstreams as the inline path uses it.
final class LocalUpstreamEndpoint: Sendable {
    let name: String
    let origin: HTTPOrigin
    /// `host:port`, for errors and logs.
    let address: String
    /// Its health (nil: not checked, healthy).
    let health: HealthFlag?

    init(name: String, origin: HTTPOrigin, address: String, health: HealthFlag?) {
        self.name = name
        self.origin = origin
        self.address = address
        self.health = health
    }
}

/// A route as the inline path uses it: what ``RouteTable/decide(method:path:hopped:writer:isHealthy:)``
/// needs of it, made once, so that no route is copied per request.
final class InlineRoute: Sendable {
    let name: String
    let viaWriter: Bool
    /// The route's upstream here (nil when it has no parsed origin: the general path reports it).
    let endpoint: LocalUpstreamEndpoint?

    init(name: String, viaWriter: Bool, endpoint: LocalUpstreamEndpoint?) {
        self.name = name
        self.viaWriter = viaWriter
        self.endpoint = endpoint
    }
}

/// The server's and client's header field, rewritten by ``ForwardingHeaders`` as it is.
extension HTTPField: ForwardableField {}

/// Forwards each request to the upstream its route names (here, or at the writer's sidecar):
/// the request is re-serialized with rewritten headers (never forwarded as raw bytes), bodies
/// stream both ways with back-pressure, WebSocket upgrades are spliced, and failures become JSON
/// 502/504 errors naming the upstream. The routing decision itself is ``RouteTable``'s (pure).
public final class ReverseProxy: Sendable {
    /// Bodies up to this size, chunked ones included, are read whole before they are sent (one
    /// write, a fixed length, and an idempotent request can be retried); larger ones stream.
    static let wholeBodyLimit = 64 * 1024
    /// Most fields an upstream response head may have. Its bytes are bounded (16 KiB); the
    /// count only keeps many tiny fields from costing more than those bytes would, as nginx
    /// bounds a head by its buffer alone: an application that sets many cookies is relayed.
    static let upstreamHeaderFieldLimit = 1000

    let configuration: ProxyConfiguration
    let table: RouteTable
    let addresses: [String: String]
    /// Each upstream's name, origin (`http://host:port`, parsed once) and address in one object:
    /// the inline path keeps all three with one reference.
    let endpoints: [String: LocalUpstreamEndpoint]
    /// ``table``'s routes, in order, for the inline path.
    let inlineRoutes: [InlineRoute]
    /// ``table`` compiled for the inline path: matched on bytes, no route copied.
    let matcher: RouteMatcher
    let client: HTTPClient
    /// Where the proxy's own listener accepts connections, and the sidecar's other listeners
    /// that would bring a connection back to it: ``client`` never connects there.
    let ownAddresses: OwnListenerAddresses
    let writer: any WriterResolver
    let health: UpstreamHealth
    let metrics: ProxyMetrics
    let logger: Logger
    /// Bounds each wait for more of a response body by the read timeout.
    let watchdog: BodyWatchdog
    private let nodeID: String
    private let retry: RetryPolicy
    let proto: String
    /// Wraps every request on its way to one of this sidecar's own upstreams (never one bound for
    /// the writer's sidecar): the hot/cold fencing token goes on here.
    let upstreamMiddleware: [any HTTPMiddleware]
    /// Proves this sidecar's hops and checks others' (`-proxy-hop-key`); nil: hops are trusted
    /// from the members' addresses.
    let hops: HopAuthenticator?
    /// Request fields never passed on (lower-case), made once: to a local upstream (the hop
    /// header, the hop proof and API credentials) and to the writer's sidecar (the hop header and
    /// proof, which it sets itself).
    let stripToLocal: Set<String>
    private let stripToWriter: Set<String>
    /// The API-key check (nil: keys are off), asked again once a request that needs a key is
    /// routed to this sidecar's own upstream (``APIKeyMiddleware/checkCurrent(_:use:)``).
    let keys: APIKeyMiddleware?

    /// - Parameters:
    ///   - nodeID: this node's ID, sent in ``RoutingDecision/hopHeader`` to the writer.
    ///   - proto: `http`, or `https` when the proxy terminates TLS (for `X-Forwarded-Proto`).
    ///   - upstreamMiddleware: runs around requests forwarded to this sidecar's own upstreams only.
    ///   - writerTLS: TLS to a writer whose proxy speaks HTTPS (``ProxyTLS/writerClient(_:logger:)``;
    ///     default: the system's CAs).
    public init(configuration: ProxyConfiguration, nodeID: String, writer: any WriterResolver, health: UpstreamHealth,
                metrics: ProxyMetrics, logger: Logger, proto: String = "http", upstreamMiddleware: [any HTTPMiddleware] = [],
                writerTLS: (any ByteStreamTransportFactory)? = nil, hops: HopAuthenticator? = nil,
                keys: APIKeyMiddleware? = nil, group: EventLoopGroup? = nil) {
        self.hops = hops
        self.keys = keys
        self.configuration = configuration
        table = configuration.routeTable
        matcher = RouteMatcher(configuration.routeTable)
        let addresses = Dictionary(uniqueKeysWithValues: configuration.upstreams.map { ($0.name, $0.address.description) })
        let origins = addresses.compactMapValues { try? HTTPOrigin("http://\($0)") }
        self.addresses = addresses
        let endpoints = Dictionary(uniqueKeysWithValues: origins.map { name, origin in
            (name, LocalUpstreamEndpoint(name: name, origin: origin, address: addresses[name] ?? "", health: health.flag(for: name)))
        })
        self.endpoints = endpoints
        inlineRoutes = configuration.routeTable.routes.map { route in
            InlineRoute(name: route.name, viaWriter: route.target.viaWriter, endpoint: endpoints[route.target.upstream])
        }
        self.nodeID = nodeID
        self.writer = writer
        self.health = health
        self.metrics = metrics
        self.logger = logger
        self.proto = proto
        self.upstreamMiddleware = upstreamMiddleware
        retry = RetryPolicy()
        stripToWriter = [RoutingDecision.hopHeader.lowercased(), HopProof.header.lowercased()]
        stripToLocal = stripToWriter.union(APIKeySettings.credentialHeaders)
        watchdog = BodyWatchdog(timeout: configuration.readTimeout)
        let ownAddresses = OwnListenerAddresses(name: "the HTTP proxy's listener", upstreams: configuration.upstreams.map(\.address))
        self.ownAddresses = ownAddresses
        client = HTTPClient(configuration: HTTPClientConfiguration(
            connectTimeout: configuration.connectTimeout, requestTimeout: configuration.readTimeout, maxConnectionsPerHost: 1024, idleTimeout: .seconds(50),
            limits: HTTPParserLimits(maxHeaderCount: Self.upstreamHeaderFieldLimit, maxBodyBytes: Int.max),
            httpsTransport: writerTLS ?? TLSTransportFactory.systemClient, addressFilter: ownAddresses), group: group)
    }

    /// The proxy as the end of a middleware chain.
    public var responder: HTTPResponder {
        HTTPResponder { request in await self.forward(request) }
    }

    /// Closes pooled upstream connections.
    public func shutdown() async { await client.shutdown() }

    // MARK: Forwarding

    func forward(_ request: HTTPStreamingRequest) async -> HTTPResponse {
        if let refused = RefusedMethod(rawValue: request.method) {
            return counted(refused.response(target: request.target), for: request, path: request.path)
        }
        let hopped = isProvenHop(request)
        let trustedHop = hopped
        let path = Self.routedPath(request)
        let decision = table.decide(method: request.method, path: path, hopped: hopped, writer: writer.current,
                                    isHealthy: health.isHealthy)
        switch decision {
        case .refuse(let status, let message):
            return counted(ProxyErrorResponse.make(status, message), for: request, path: path)
        case .forward(let route, let destination):
            // Here this sidecar's check of the key decides: as the writer against keys confirmed
            // current, for a read against keys not too stale. Bound for another sidecar (the
            // writer), the request is checked there again.
            if let keys, case .local = destination,
               let refusal = await keys.checkCurrent(request, use: route.target.viaWriter ? .write : .read) {
                metrics.request(route: route.name, method: request.method, status: refusal.status)
                return refusal
            }
            let response = await forward(request, to: destination, trustedHop: trustedHop)
            metrics.request(route: route.name, method: request.method, status: response.status)
            return response
        }
    }

    /// `response`, the proxy's own answer to `request`, counted under the route `path` takes.
    private func counted(_ response: HTTPResponse, for request: HTTPStreamingRequest, path: String) -> HTTPResponse {
        metrics.request(route: table.route(method: request.method, path: path)?.name ?? ProxyConfiguration.unroutedLabel,
                        method: request.method, status: response.status)
        return response
    }

    /// The path `request` is routed by: its own, or `/` for a server-wide `OPTIONS *` (also what
    /// `OPTIONS http://host:port` is read as), which no path prefix but `/` covers: the routes
    /// for every path take it, and it goes on as `*` (RFC 9112 §3.2.4).
    static func routedPath(_ request: HTTPStreamingRequest) -> String {
        isServerWideOptions(method: request.method, target: request.target) ? "/" : request.path
    }

    /// `OPTIONS *`.
    static func isServerWideOptions(method: String, target: String) -> Bool { target == "*" && method == "OPTIONS" }

    /// The verdict on the current request's hop claim when the ``RateLimitMiddleware`` in front
    /// of this proxy has already checked it (checking a proof uses up its nonce, so it is checked
    /// once per request).
    @TaskLocal static var checkedHop: Bool?

    /// Whether `request` is another sidecar's hop: it carries ``RoutingDecision/hopHeader`` and,
    /// with a hop key, a ``HopProof`` that verifies for its method and target, was made for this
    /// node and names the same node as the hop header (without a key: it comes from a member's or
    /// announced proxy's address). A hop ends here (never forwarded again) and its forwarding
    /// headers are kept; an unproven claim is counted and the request is routed as a client's
    /// (the hop header is stripped on the way).
    func isProvenHop(_ request: HTTPStreamingRequest) -> Bool {
        guard let claimed = request.headers[RoutingDecision.hopHeader] else { return false }
        if let checked = Self.checkedHop { return checked }
        guard let hops else {
            let trusted = writer.trustsHop(from: request.remoteAddress?.host ?? "")
            metrics.hop(trusted ? "trusted_address" : "untrusted_address")
            return trusted
        }
        switch hops.verify(request.headers[HopProof.header], method: request.method, target: request.target) {
        case .proven(let node) where node == claimed:
            metrics.hop("proven")
            return true
        case .proven(let node):
            metrics.hop("node_mismatch")
            logger.info("\(request.method) \(request.path): hop header names \(claimed.debugDescription) but the proof \(node.debugDescription); routed as a client request")
        case .refused(let label, let reason):
            metrics.hop(label)
            logger.info("\(request.method) \(request.path): unproven sidecar hop from \(request.remoteAddress?.host ?? "unknown") (\(reason)); routed as a client request")
        }
        return false
    }

    /// Sends `request` on; one bound for a local upstream goes through ``upstreamMiddleware`` first.
    func forward(_ request: HTTPStreamingRequest, to destination: RoutingDecision.Destination, trustedHop: Bool) async -> HTTPResponse {
        guard case .local = destination, !upstreamMiddleware.isEmpty else {
            return await send(request, destination: destination, trustedHop: trustedHop)
        }
        let end = HTTPResponder { request in await self.send(request, destination: destination, trustedHop: trustedHop) }
        do {
            return try await end.wrapped(in: upstreamMiddleware)(request)
        } catch {
            logger.warning("\(request.method) \(request.path): a middleware in front of the upstream failed: \(error)")
            return ProxyErrorResponse.make(500, "the request could not be passed to the upstream: \(error)")
        }
    }

    private func send(_ request: HTTPStreamingRequest, destination: RoutingDecision.Destination, trustedHop: Bool) async -> HTTPResponse {
        let serverWide = Self.isServerWideOptions(method: request.method, target: request.target)
        guard request.target.hasPrefix("/") || serverWide else {
            return ProxyErrorResponse.make(400, "the request target must be a path starting with /, not \(request.target.prefix(80).debugDescription)")
        }
        let upstreamName: String
        let address: String
        var scheme = "http"
        let strip: Set<String>
        switch destination {
        case .local(let upstream):
            upstreamName = upstream
            address = addresses[upstream] ?? ""
            strip = stripToLocal
        case .writer(let writerAddress, _, let upstream, let tls):
            upstreamName = upstream
            address = writerAddress
            strip = stripToWriter
            if tls { scheme = "https" }
        }
        let upgrade = WebSocketForwarding.isPassedUpgrade(request)
        let client = ForwardingHeaders.ClientSide(address: request.remoteAddress?.host, proto: proto)
        var headers = HTTPHeaders(ForwardingHeaders.request(request.headers.fields, client: client, upgrade: upgrade, strip: strip,
                                                            trustedHop: trustedHop))
        if case .writer(_, let writerID, _, _) = destination {
            headers.add(name: RoutingDecision.hopHeader, value: nodeID)
            if let hops {
                headers.add(name: HopProof.header, value: hops.proof(method: request.method, target: request.target, receiver: writerID))
            }
        }
        let url = { "\(scheme)://\(address)\(request.target)" }
        if upgrade {
            return await WebSocketForwarding.forward(request, url: url(), headers: headers, via: self.client, upstream: upstreamName,
                                                     address: address, timeout: configuration.readTimeout,
                                                     idleTimeout: configuration.webSocketIdleTimeout, logger: logger, metrics: metrics,
                                                     unreadBody: { await self.unreadBody(request, $0) }) {
                await self.relay($0, method: request.method, upstream: upstreamName, address: address)
            }
        }

        // A local upstream's origin was parsed once; the writer's address can change.
        // `OPTIONS *` goes on as `*`, which no URL text carries: the writer's origin is parsed for it.
        var outgoing = if case .local(let upstream) = destination, let origin = endpoints[upstream]?.origin {
            HTTPClientRequest(method: request.method, origin: origin, target: request.target, headers: headers)
        } else if serverWide, let origin = try? HTTPOrigin("\(scheme)://\(address)") {
            HTTPClientRequest(method: request.method, origin: origin, target: request.target, headers: headers)
        } else {
            HTTPClientRequest(method: request.method, url: url(), headers: headers)
        }
        Self.forwardsInterim(of: request, in: &outgoing)
        var streamed = false
        var readAhead: [UInt8] = []
        if let length = request.body.declaredLength, length <= Self.wholeBodyLimit {
            if length > 0 {
                do {
                    outgoing.body = try await request.body.collect(upTo: Self.wholeBodyLimit)
                } catch {
                    return await unreadBody(request, error)
                }
            }
        } else if request.body.declaredLength == nil {
            // A chunked body that ends within the limit goes on whole, with a `Content-Length`:
            // a client may send chunked only to a server it knows speaks HTTP/1.1 (RFC 9112
            // §7.1), and an upstream that takes no chunked request would read the chunks as
            // its next request (nginx buffers such a body too). A longer one streams chunked.
            do {
                switch try await Self.readAhead(request.body, upTo: Self.wholeBodyLimit) {
                case .whole(let bytes): outgoing.body = bytes
                case .partial(let bytes):
                    readAhead = bytes
                    streamed = true
                }
            } catch {
                return await unreadBody(request, error)
            }
        } else {
            streamed = true
        }

        let started = ContinuousClock.now
        var attempt = 1
        while true {
            do {
                let answer = streamed
                    ? try await executeStreamingUpload(outgoing, readAhead: readAhead, body: request.body, address: address)
                    : try await self.client.execute(outgoing, timeout: configuration.readTimeout)
                metrics.upstreamLatency(upstreamName, seconds: Self.seconds(ContinuousClock.now - started))
                return await relay(answer, method: request.method, upstream: upstreamName, address: address)
            } catch {
                // The client left (the server cancelled this task): the upstream connection
                // was closed by the cancellation; not the upstream's failure, not retried.
                if Task.isCancelled { return clientLeft(request.method, request.path, upstream: upstreamName, address: address) }
                // The client's streamed body broke (it stopped half-way): its failure, answered as
                // a body that cannot be read whole is (the server's 408, 400, 413 or 431, or 499
                // when the client left), and not counted against the upstream, whose connection
                // was closed mid-body.
                if let broken = error as? ClientBodyBroken { return await unreadBody(request, broken.underlying) }
                let failure: RetryPolicy.Failure = (error as? HTTPClientError).map {
                    $0.code == .connectFailed || $0.code == .connectTimeout ? .notConnected : .mayHaveReachedUpstream
                } ?? .mayHaveReachedUpstream
                if retry.shouldRetry(method: request.method, hasBody: streamed, failure: failure, attempt: attempt) {
                    attempt += 1
                    // A fresh proof: the writer may have seen (and remembered) the first one.
                    if case .writer(_, let writerID, _, _) = destination, let hops {
                        outgoing.headers.set(name: HopProof.header, value: hops.proof(method: request.method, target: request.target,
                                                                                      receiver: writerID))
                    }
                    continue
                }
                metrics.upstreamFailure(upstreamName)
                health.checkSoon(upstreamName)
                logger.warning("\(request.method) \(request.path) to upstream \(upstreamName) (\(address)) failed: \(error)")
                let writer: String? = if case .writer(_, let writerID, _, _) = destination { writerID } else { nil }
                return ProxyErrorResponse.upstreamFailure(error, upstream: upstreamName, address: address, writer: writer)
            }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
