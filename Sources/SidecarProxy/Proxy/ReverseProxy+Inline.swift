import DiscoCore
import DiscoNet
import Sidecar

// MARK: - The inline lane: the common request forwarded without a task

/// The proxy's ``HTTPInlineHandler``: a request without a body that the middleware would pass
/// through untouched and that goes to a local upstream is forwarded on the loop thread, on an
/// idle pooled upstream connection, with no task and no async call; its response goes back
/// the same way when it arrived whole with its head. Everything else keeps the middleware and
/// the async path, and so does the inline lane whenever it must wait: no idle connection, a
/// rate-limit delay, a retry, a body still arriving.
///
/// The lane makes the same decisions in the same order as the middleware chain it stands in
/// front of (the sidecar's own endpoints, rate limits, API keys, then routing), through the same
/// code: what a client sees does not depend on which path served it. A request whose method
/// needs an API key is checked here when nothing about it has to wait: it goes to a local
/// upstream on a route that does not go to the writer (a write at the writer waits for keys
/// confirmed current), and no `key=app_id` zone counts it (those decide around the check, in
/// the middleware). Its key is then checked against the store's copy (which never waits), after
/// the rate limits that decide before the check, and the keys' staleness for a read is asked
/// as the proxy asks it (``APIKeyMiddleware/checkCurrent(_:use:)``).
struct ProxyInlineLane: HTTPInlineHandler {
    let proxy: ReverseProxy
    /// Set when API keys are on: the check of requests whose method needs a key.
    let keys: APIKeyMiddleware?
    /// Set when rate limits are on: the lane takes the middleware's decision itself.
    let rateLimit: RateLimitMiddleware?
    /// Whether simple heads are taken in place (``ProxyConfiguration/inlineHeadViews``).
    let takesHeadViews: Bool

    func handle(_ request: HTTPRequest, reply: HTTPInlineReply) -> Bool {
        // A refused method (CONNECT, TRACE) is the general path's to answer.
        guard !request.target.hasPrefix(SidecarEndpoints.prefix), RefusedMethod(rawValue: request.method) == nil else { return false }
        guard let keys, keys.settings.requiresKey(method: request.method) else {
            return proxy.forwardInline(request, reply: reply, rateLimit: rateLimit, keys: nil)
        }
        // `key=app_id` zones decide around the key check (RateLimitMiddleware.aroundAPIKeys).
        if let rateLimit, !rateLimit.afterKeys.isEmpty { return false }
        return proxy.forwardInline(request, reply: reply, rateLimit: rateLimit, keys: keys)
    }

    func handle(head: HTTPRequestHeadView, reply: HTTPInlineReply) -> Bool {
        guard !head.targetHasPrefix(SidecarEndpoints.prefix) else { return false }
        let method = head.method
        guard RefusedMethod(rawValue: method) == nil else { return false }
        // The key is checked from a parsed request: it comes again through handle(_:reply:).
        if let keys, keys.settings.requiresKey(method: method) { return false }
        return proxy.forwardInline(head, method: method, reply: reply, rateLimit: rateLimit)
    }
}

extension ReverseProxy {
    /// Takes `request` (true) when it goes to a local upstream with nothing in front of it, or
    /// declines (false) before any effect. `keys`: set when its method needs an API key.
    func forwardInline(_ request: HTTPRequest, reply: HTTPInlineReply, rateLimit: RateLimitMiddleware?, keys: APIKeyMiddleware?) -> Bool {
        guard upstreamMiddleware.isEmpty, request.target.hasPrefix("/"), request.headers[RoutingDecision.hopHeader] == nil,
              !request.headers.contains("Upgrade") else { return false }
        // The completion keeps only what it reads (each kept reference is retained with it and
        // released after): for the rare retry or error the target, fields, version and peer,
        // not the whole request value.
        let fields = request.headers.fields
        let kept = KeptRequest(method: request.method, target: request.target, version: request.version, fields: fields,
                               remoteAddress: request.remoteAddress)
        let path = request.path
        return request.method.withBorrowedUTF8 { method in
            path.withBorrowedUTF8 { path in
                request.target.withBorrowedUTF8 { target in
                    forwardInline(method: request.method, methodBytes: method, path: path, target: target, headers: request.headers,
                                  reply: reply, rateLimit: rateLimit, keys: keys, source: kept) { out, client, defaultHost in
                        ForwardingHeaders.encodeRequestFields(fields, client: client, strip: stripToLocal, defaultHost: defaultHost, into: &out)
                    }
                }
            }
        }
    }

    /// The same for a simple head read in place: its fields are rewritten from the buffer's
    /// bytes into the upstream request, with no request value made. Declines (before any
    /// effect) when a field needs the general rewriting or a rate-limit zone keys by a header:
    /// the request then comes again through ``forwardInline(_:reply:rateLimit:keys:)``.
    func forwardInline(_ head: HTTPRequestHeadView, method: String, reply: HTTPInlineReply, rateLimit: RateLimitMiddleware?) -> Bool {
        guard upstreamMiddleware.isEmpty, head.fields.count <= 64, !(rateLimit?.keysByHeader ?? false) else { return false }
        // Each field's fate, found once: the dropped ones by bit.
        var dropped: UInt64 = 0
        var hostValue = 0..<0
        for index in 0..<head.fields.count {
            let field = head.fields[index]
            switch ForwardingHeaders.simpleRequestField(name: head.name(field), value: head.value(field), strip: stripToLocal) {
            case .host: hostValue = field.value
            case .keep: break
            case .drop: dropped |= 1 << UInt64(index)
            case .needsGeneralRewriting: return false
            }
        }
        return forwardInline(method: method, methodBytes: head.methodBytes, path: head.pathBytes, target: head.targetBytes,
                             headers: HTTPHeaders(), reply: reply, rateLimit: rateLimit, keys: nil, source: ViewedRequest()) { out, client, _ in
            // All fields in one append (each piece copied through a writer, not appended).
            let host = head.slice(hostValue)
            var bound = ForwardingHeaders.forwardingFieldsBound(host: host, client: client)
            for index in 0..<head.fields.count where dropped & (1 << UInt64(index)) == 0 {
                bound += ForwardingHeaders.fieldBound(name: head.name(head.fields[index]), value: head.value(head.fields[index]))
            }
            out.appendWriting(atMost: bound) { writer in
                for index in 0..<head.fields.count where dropped & (1 << UInt64(index)) == 0 {
                    let field = head.fields[index]
                    ForwardingHeaders.writeField(name: head.name(field), value: head.value(field), to: &writer)
                }
                ForwardingHeaders.writeForwardingFields(host: host, client: client, to: &writer)
            }
            metrics.headViewForwarded()
        }
    }

    /// What both lanes share once the request's fields are known to be forwardable: the routing
    /// decision, the rate limit, the API key (`keys`, set when the method needs one; `headers`
    /// then holds the request's fields) and the exchange on an idle pooled connection.
    /// `encodeFields` writes the upstream request's fields (given the client's side and the
    /// `Host` to use when the request has none); `source` gives the whole request when the async
    /// path has to take over (a delay, no idle connection, a retry). The byte arguments are read
    /// only during the call.
    private func forwardInline<Source: InlineRequestSource>(
        method: String, methodBytes: UnsafeBufferPointer<UInt8>, path: UnsafeBufferPointer<UInt8>, target: UnsafeBufferPointer<UInt8>,
        headers: HTTPHeaders, reply: HTTPInlineReply, rateLimit: RateLimitMiddleware?, keys: APIKeyMiddleware?, source: Source,
        encodeFields: (inout [UInt8], ForwardingHeaders.ClientSide, String) -> Void
    ) -> Bool {
        // What table.decide would answer, without copying a route: the lane takes only requests
        // it would forward to a local upstream and declines the rest (the general path decides
        // them again, with the same inputs).
        guard let index = matcher.firstMatch(method: methodBytes, path: path) else { return false }
        let route = inlineRoutes[index]
        guard let endpoint = route.endpoint else { return false }
        if route.viaWriter {
            // A write with a key, here at the writer, waits for keys confirmed current.
            guard keys == nil, case .local = writer.current else { return false }
        }
        guard endpoint.health?.isHealthy ?? true else { return false }
        if let rateLimit {
            let path = String(decoding: path, as: UTF8.self)
            switch rateLimit.verdict(method: method, path: path, headers: headers, remoteAddress: reply.remoteAddress) {
            case .forward:
                break
            case .reject(let response):
                metrics.request(route: route.name, method: method, status: response.status)
                reply.respond(response)
                return true
            case .forwardAfter(let delay):
                guard let request = source.request(reply) else { return true }
                reply.respond(later: {
                    do {
                        try await Task.sleep(for: delay)
                    } catch {
                        // Cancelled: the client left, or the server is stopping.
                        let answer = await reply.clientHasLeft() ? RateLimitMiddleware.clientLeft()
                            : ProxyErrorResponse.make(503, "the server is stopping; retry later")
                        self.metrics.request(route: route.name, method: method, status: answer.status)
                        return answer
                    }
                    if await reply.clientHasLeft() {
                        self.metrics.request(route: route.name, method: method, status: 499)
                        return RateLimitMiddleware.clientLeft()
                    }
                    if let keys, let refusal = self.keyRefusal(keys, route: route, method: method, path: request.path,
                                                               headers: request.headers, remoteAddress: request.remoteAddress) {
                        return refusal
                    }
                    return await self.forwardTaken(request, reply: reply, routeName: route.name, to: .local(upstream: endpoint.name))
                })
                return true
            }
        }
        if let keys, let refusal = keyRefusal(keys, route: route, method: method, path: String(decoding: path, as: UTF8.self),
                                              headers: headers, remoteAddress: reply.remoteAddress) {
            reply.respond(refusal)
            return true
        }
        let client = ForwardingHeaders.ClientSide(address: reply.remoteHost, proto: proto)
        let loop = reply.loop
        let started = loop.turnNanoseconds
        // The completion keeps the route (its name and upstream in one reference), the method
        // and how to get the request back, nothing of the request's bytes.
        let sent = self.client.executeInline(
            method: method, origin: endpoint.origin, target: target, fieldsSize: 256,
            encodeFields: { encodeFields(&$0, client, endpoint.origin.authority) },
            timeout: configuration.readTimeout, on: loop, relay: Self.relayFilter, reportingInterim: true, cancelledWith: reply
        ) { outcome in
            self.inlineOutcome(outcome, route: route, method: method, started: started, reply: reply, source: source)
        }
        if !sent, let request = source.request(reply) {
            reply.respond(later: {
                await self.forwardTaken(request, reply: reply, routeName: route.name, to: .local(upstream: endpoint.name))
            })
        }
        return true
    }

    /// The answer to a request whose method needs a key, bound for `route`'s local upstream as a
    /// read, when it may not go on; nil when it may. What the middleware chain answers: the
    /// key check's 401 or 403, then the proxy's 503 for keys too stale for a read; counted
    /// under the route, as the middleware and ``forward(_:)`` count them.
    private func keyRefusal(_ keys: APIKeyMiddleware, route: InlineRoute, method: String, path: @autoclosure () -> String,
                            headers: HTTPHeaders, remoteAddress: SocketAddress?) -> HTTPResponse? {
        guard let refusal = keys.check(method: method, path: path(), headers: headers, remoteAddress: remoteAddress)
            ?? keys.checkCurrentForRead(method: method, path: path(), headers: headers, remoteAddress: remoteAddress) else {
            return nil
        }
        metrics.request(route: route.name, method: method, status: refusal.status)
        return refusal
    }

    /// Answers the client from how the inline exchange with `route`'s upstream ended.
    private func inlineOutcome<Source: InlineRequestSource>(
        _ outcome: HTTPClient.InlineOutcome, route: InlineRoute, method: String, started: UInt64, reply: HTTPInlineReply, source: Source
    ) {
        guard let endpoint = route.endpoint else { return }
        let seconds = Double(reply.loop.turnNanoseconds &- started) / 1e9
        switch outcome {
        case .relayed(let relayed):
            metrics.proxied(route: route.name, method: method, status: relayed.status, upstream: endpoint.name, seconds: seconds)
            reply.respond(relayed: relayed)
        case .started(let answer):
            metrics.upstreamLatency(endpoint.name, seconds: seconds)
            if let response = wholeResponse(answer, method: method) {
                metrics.request(route: route.name, method: method, status: response.status)
                reply.respond(response)
                return
            }
            reply.respond(later: {
                let response = await self.relay(answer, method: method, upstream: endpoint.name, address: endpoint.address)
                self.metrics.request(route: route.name, method: method, status: response.status)
                return response
            })
        case .abandoned:
            // The client left before the head arrived: the upstream connection is closed, the
            // client's too; nothing is answered.
            metrics.request(route: route.name, method: method, status: 499)
            _ = clientLeft(method, nil, upstream: endpoint.name, address: endpoint.address)
        case .failed(let error, let retryable):
            // The request again (nil when the client has gone meanwhile: nothing to answer).
            let request = source.request(reply)
            if retryable {
                // Nothing reached the upstream: the async path sends it on a new connection.
                guard let request else { return }
                reply.respond(later: {
                    await self.forwardTaken(request, reply: reply, routeName: route.name, to: .local(upstream: endpoint.name))
                })
                return
            }
            metrics.upstreamFailure(endpoint.name)
            health.checkSoon(endpoint.name)
            logger.warning("\(method) \(request?.path ?? "(client gone)") to upstream \(endpoint.name) (\(endpoint.address)) failed: \(error)")
            let response = ProxyErrorResponse.upstreamFailure(error, upstream: endpoint.name, address: endpoint.address)
            metrics.request(route: route.name, method: method, status: response.status)
            reply.respond(response)
        case .interim(let interim):
            // A 1xx before the final response: passed on as it arrives (see `forwardsInterim`).
            if let forwarded = Self.forwardedInterim(interim) { reply.sendInterim(forwarded) }
        }
    }

    /// Upstream response fields a relayed response keeps: those ``ForwardingHeaders/response(_:upgrade:)``
    /// keeps (the relay has already refused a `Connection` naming fields).
    static let relayFilter = HTTPRelayFilter(maxBody: wholeBodyLimit) { name in ForwardingHeaders.keepsResponseField(named: name) }

    /// The rest of ``forward(_:)`` after its routing decision, for a request the lane took
    /// (answered on `reply`'s exchange: the upstream's interim responses are passed on there).
    private func forwardTaken(_ request: HTTPRequest, reply: HTTPInlineReply, routeName: String,
                              to destination: RoutingDecision.Destination) async -> HTTPResponse {
        let response = await forward(reply.streamingRequest(request), to: destination, trustedHop: false)
        metrics.request(route: routeName, method: request.method, status: response.status)
        return response
    }

    /// The client's response when the upstream's arrived whole with its head (a fixed length
    /// within ``wholeBodyLimit``), as ``relay(_:method:upstream:address:)`` makes it; nil otherwise.
    private func wholeResponse(_ answer: HTTPClientStreamingResponse, method: String) -> HTTPResponse? {
        let bodyless = method == "HEAD" || answer.status == 204 || answer.status == 304 || (100..<200).contains(answer.status)
        guard !bodyless, let text = answer.headers["Content-Length"], let length = Int(text), length <= Self.wholeBodyLimit,
              let bytes = answer.body.collectIfArrived(upTo: Self.wholeBodyLimit) else { return nil }
        return HTTPResponse(status: answer.status, reason: answer.reason, headers: HTTPHeaders(ForwardingHeaders.response(answer.headers.fields)),
                            body: .bytes(bytes))
    }
}

// MARK: - The whole request, when the async path takes over

/// How the inline lane gets the whole request back for the async path (a delay, no idle
/// connection, a retry): kept from it, or parsed again from the head the server kept.
protocol InlineRequestSource {
    func request(_ reply: HTTPInlineReply) -> HTTPRequest?
}

/// The parts of a request value the lane keeps (not the value: fewer references to retain).
struct KeptRequest: InlineRequestSource {
    let method: String
    let target: String
    let version: HTTPVersion
    let fields: [HTTPField]
    let remoteAddress: SocketAddress?

    func request(_ reply: HTTPInlineReply) -> HTTPRequest? {
        HTTPRequest(method: method, target: target, version: version, headers: HTTPHeaders(fields), remoteAddress: remoteAddress)
    }
}

/// A head taken as a view: the server parses its kept bytes again.
struct ViewedRequest: InlineRequestSource {
    func request(_ reply: HTTPInlineReply) -> HTTPRequest? { reply.request() }
}
