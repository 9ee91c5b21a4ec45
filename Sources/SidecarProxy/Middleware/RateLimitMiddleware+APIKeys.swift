import DiscoCore
import DiscoNet
import RateLimitCore
import Sidecar
import Synchronization

// MARK: - `key=app_id` limits around the API-key check

extension RateLimitMiddleware {
    /// `keys` with the `key=app_id` limits around it, for the requests whose method needs a key
    /// (`keys` itself when there are no such limits or API keys are off). It goes in the chain
    /// where `keys` would, behind this middleware.
    ///
    /// A request the check accepts is decided by those limits under its `app_id`. One it refuses
    /// (401, 403) is charged to each of them under its client's address (``refusedKey(_:)``), so
    /// that guessing keys is limited at those zones' rates even when no zone counts by address,
    /// and no application's budget is spent by requests naming it with a wrong key. As nginx's
    /// `limit_req` runs before access checks, an address over such a limit is answered with the
    /// zone's status before its key is checked, whatever key it sends: otherwise a right guess
    /// would still be told from wrong ones (200 against 429) at any speed. One under the limit is
    /// checked, and charged only when refused: beyond the burst if need be (guesses checked
    /// together all count), answered with the zone's status when that took it over the limit,
    /// else with its refusal (after the zone's delay, if any). A proven hop's request is limited
    /// at the sidecar its client sent it to, not here.
    public func aroundAPIKeys(_ keys: APIKeyMiddleware) -> any HTTPMiddleware {
        guard apiKeys != nil, !afterKeys.isEmpty else { return keys }
        return AroundAPIKeys(limits: self, keys: keys)
    }

    /// The key a `key=app_id` zone counts a request refused for its API key by: its client's
    /// binary address after a byte 1, which no `app_id` (visible ASCII) starts with, nor the
    /// address key of a request that needs no key (byte 0).
    static func refusedKey(_ remoteAddress: SocketAddress?) -> RateLimitKey {
        RateLimitKey(remoteAddress.map { [1] + $0.addressBytes } ?? [])
    }

    /// What to do with a request before its key is checked.
    fileprivate enum KeyCheck {
        /// Its client is over a limit for refused keys: answer this, unchecked.
        case reject(HTTPResponse)
        /// Check it; when refused, charge it (not when a dry run would have rejected it: a
        /// rejected request is charged nowhere).
        case check(chargeRefusal: Bool)
    }

    /// Looks whether the request's client is over a `key=app_id` limit for refused keys (charging
    /// nothing); a rejection is counted and logged, in dry run too.
    fileprivate func beforeKeyCheck(_ request: HTTPStreamingRequest, keys: [RateLimitKey]) -> KeyCheck {
        let now = Self.milliseconds(ContinuousClock.now - epoch)
        let stage = afterKeys
        guard let rejection = limiter.withLock({ $0.rejection(stage.policy, keys: keys, now: now) }) else {
            return .check(chargeRefusal: true)
        }
        record(rejection, stage: stage, method: request.method, path: request.path, remoteAddress: request.remoteAddress)
        guard case .reject(let status) = rejection.action else { return .check(chargeRefusal: false) }
        return .reject(Self.rejection(status, zone: stage.zoneNames[rejection.limit ?? 0]))
    }

    /// Charges a request refused for its key, and answers: `refusal`, after the delay if any, or
    /// the zone's status when the charge took it over a limit.
    fileprivate func charge(refused request: HTTPStreamingRequest, keys: [RateLimitKey], refusal: HTTPResponse) async throws -> HTTPResponse {
        let now = Self.milliseconds(ContinuousClock.now - epoch)
        let stage = afterKeys
        let decision = limiter.withLock { $0.charge(stage.policy, keys: keys, now: now) }
        record(decision, stage: stage, method: request.method, path: request.path, remoteAddress: request.remoteAddress)
        switch decision.action {
        case .forward:
            return refusal
        case .forwardAfter(let milliseconds):
            do {
                try await Task.sleep(for: .milliseconds(milliseconds))
            } catch {
                // Cancelled: the client left (499, as for a delayed request), or the server is stopping.
                if await request.clientHasLeft() { return Self.clientLeft() }
                throw error
            }
            return await request.clientHasLeft() ? Self.clientLeft() : refusal
        case .reject(let status):
            return Self.rejection(status, zone: stage.zoneNames[decision.limit ?? 0])
        }
    }
}

/// ``RateLimitMiddleware/aroundAPIKeys(_:)``.
private struct AroundAPIKeys: HTTPMiddleware {
    let limits: RateLimitMiddleware
    let keys: APIKeyMiddleware

    func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        guard keys.settings.requiresKey(method: request.method) else { return try await next(request) }
        // The verdict on a hop claim was reached (and kept) by the limits in front, before the check.
        // Every answer here but the next one's is this middleware's own: counted as the request's.
        let metrics = limits.metrics
        if request.headers[RoutingDecision.hopHeader] != nil, let provenHop = limits.provenHop, provenHop(request) {
            if let refusal = keys.check(request) { return metrics.answeredInFront(request, refusal) }
            return try await next(request)
        }
        let refusedKeys = Array(repeating: RateLimitMiddleware.refusedKey(request.remoteAddress), count: limits.afterKeys.sources.count)
        switch limits.beforeKeyCheck(request, keys: refusedKeys) {
        case .reject(let response):
            return metrics.answeredInFront(request, response)
        case .check(let chargeRefusal):
            if let refusal = keys.check(request) {
                let answer = chargeRefusal ? try await limits.charge(refused: request, keys: refusedKeys, refusal: refusal) : refusal
                return metrics.answeredInFront(request, answer)
            }
            return try await limits.handle(request, next: next, afterKeys: true)
        }
    }
}
