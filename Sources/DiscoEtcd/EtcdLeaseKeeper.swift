import DiscoCore
import Synchronization

// MARK: - EtcdLeaseKeeper

/// Holds one etcd lease: grants it, renews it every third of its TTL (``run()``), and knows when
/// it must be considered lost.
///
/// The holder's deadline is measured from when the last successful renewal was *sent*: etcd
/// restarts the TTL when it receives the request, which is later, so
/// `send time + TTL - safety margin` passes on this machine before etcd can expire the lease
/// and grant what it protected (an election key) to someone else. Past that deadline
/// ``isValid`` is false even if the renewal's answer is still on its way, and a renewal that
/// arrives later does not bring the lease back: a lost lease stays lost (grant a new one).
public final class EtcdLeaseKeeper: Sendable {
    public let client: EtcdClient
    /// The TTL asked for (etcd may grant a longer one; the deadline uses the granted TTL).
    public let ttl: Duration
    /// Subtracted from every deadline for clock-rate differences between this machine and etcd.
    public let safetyMargin: Duration

    /// The lease's lifecycle.
    public enum Phase: Sendable, Hashable {
        case none
        case held(id: Int64)
        case lost(id: Int64, reason: String)
    }

    private struct State {
        var phase = Phase.none
        var grantedTTL: Duration = .zero
        var validUntil = ContinuousClock.now
        var lastSent: ContinuousClock.Instant?
        var renewals = 0
    }

    private let state = Mutex(State())

    public init(client: EtcdClient, ttl: Duration, safetyMargin: Duration? = nil) {
        self.client = client
        self.ttl = max(ttl, .seconds(1))
        self.safetyMargin = safetyMargin ?? max(.milliseconds(50), self.ttl / 10)
    }

    // MARK: Reading

    public var phase: Phase { state.withLock { $0.phase } }

    /// The lease's ID while it is held and valid.
    public var leaseID: Int64? {
        state.withLock { state in
            guard case .held(let id) = state.phase, ContinuousClock.now < state.validUntil else { return nil }
            return id
        }
    }

    /// Whether the lease is held and its deadline has not passed.
    public var isValid: Bool { leaseID != nil }

    /// The instant after which the holder must consider the lease lost.
    public var deadline: ContinuousClock.Instant { state.withLock { $0.validUntil } }

    /// How many renewals succeeded.
    public var renewals: Int { state.withLock { $0.renewals } }

    // MARK: Granting and renewing

    /// Grants a new lease (replacing a lost one); returns its ID.
    @discardableResult
    public func grant() async throws(EtcdError) -> Int64 {
        let sent = ContinuousClock.now
        let (id, granted) = try await client.grantLease(ttl: ttl)
        state.withLock { state in
            state.phase = .held(id: id)
            state.grantedTTL = granted
            state.validUntil = sent + granted - safetyMargin
            state.lastSent = sent
        }
        return id
    }

    /// Renews the lease once. A failure past the deadline, or etcd no longer knowing the lease,
    /// marks it lost and throws `.leaseLost`; a failure before the deadline throws the cause.
    public func renew() async throws(EtcdError) {
        guard case .held(let id) = phase else {
            throw EtcdError(.leaseLost(id: 0), endpoint: client.endpointList, operation: "lease keep-alive", message: "no lease is held")
        }
        let sent = ContinuousClock.now
        do throws(EtcdError) {
            let granted = try await client.keepAlive(lease: id)
            let stillValid = state.withLock { state -> Bool in
                guard case .held(let current) = state.phase, current == id else { return false }
                guard ContinuousClock.now < state.validUntil else {
                    state.phase = .lost(id: id, reason: "the renewal came back after the lease's deadline")
                    return false
                }
                state.grantedTTL = granted
                state.validUntil = max(state.validUntil, sent + granted - safetyMargin)
                state.lastSent = sent
                state.renewals += 1
                return true
            }
            if !stillValid { throw lostError(id) }
        } catch {
            // The deadline first: past it, etcd's "no such lease" is what a missed deadline looks
            // like (etcd expires a lease no earlier); before it, etcd dropped a lease held in time.
            if case .held = phase, ContinuousClock.now >= deadline {
                markLost(id, reason: "not renewed before its deadline (\(error.message))")
            }
            if case .leaseLost = error.kind { markLost(id, reason: error.message) }
            if case .lost = phase { throw lostError(id) }
            throw error
        }
    }

    /// Renews every third of the TTL until the lease is lost or the task is cancelled; failed
    /// renewals are retried every tenth of the TTL while the deadline allows. Returns the reason
    /// the lease was lost (nil when cancelled).
    public func run() async -> String? {
        while !Task.isCancelled {
            guard case .held = phase else {
                if case .lost(_, let reason) = phase { return reason }
                return "no lease is held"
            }
            do {
                try await renew()
                try await Task.sleep(for: currentTTL / 3)
            } catch let error as EtcdError {
                if case .lost(_, let reason) = phase { return reason }
                _ = error
                let remaining = deadline - ContinuousClock.now
                if remaining <= .zero {
                    if case .held(let id) = phase { markLost(id, reason: "not renewed before its deadline") }
                    continue
                }
                do { try await Task.sleep(for: min(currentTTL / 10, remaining)) } catch { return nil }
            } catch {
                return nil
            }
        }
        return nil
    }

    /// Revokes the lease (deleting its keys) and forgets it.
    public func revoke() async {
        let id: Int64? = state.withLock { state in
            defer { state.phase = .none }
            if case .held(let id) = state.phase { return id }
            return nil
        }
        if let id { try? await client.revokeLease(id) }
    }

    // MARK: Internals

    private var currentTTL: Duration { state.withLock { $0.grantedTTL > .zero ? $0.grantedTTL : ttl } }

    private func markLost(_ id: Int64, reason: String) {
        state.withLock { state in
            if case .held(let current) = state.phase, current == id { state.phase = .lost(id: id, reason: reason) }
        }
    }

    private func lostError(_ id: Int64) -> EtcdError {
        let reason: String = if case .lost(_, let reason) = phase { reason } else { "lost" }
        return EtcdError(.leaseLost(id: id), endpoint: client.endpointList, operation: "lease keep-alive \(String(id, radix: 16))", message: reason)
    }
}
