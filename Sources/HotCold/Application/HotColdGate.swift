import DiscoCore
import LeaseCore
import Synchronization

// MARK: - HotColdGate

/// The question every action of the hot replica asks first — "may I act as hot now, and with
/// which token?" — answered synchronously from any thread, with the clock read at the moment of
/// asking.
///
/// The lease shell keeps it in step with its `LeaseHolder`: hot with a token until a local
/// deadline, or cold. Because ``fencingToken(at:)`` compares that deadline with the clock itself,
/// a process that was paused past its deadline answers "cold" the moment it wakes, before its
/// lease loop has run again. An unhealthy upstream closes the gate at once
/// (``closeForUnhealthyUpstream(_:)``), before the loop has even stepped down.
///
/// It also counts the writes passed to the upstream with a token and not answered yet
/// (``admitWrite(at:)``, ``writeAnswered()``), so a graceful hand-over can wait for them
/// (``waitForWritesInFlight(within:)``) before the lease is released.
public final class HotColdGate: Sendable {
    /// One stretch of time during which this replica could act as hot.
    public struct HotPeriod: Hashable, Sendable {
        public var token: UInt64
        /// When it became hot.
        public var from: ContinuousClock.Instant
        /// When it stopped: its deadline, or the moment it stepped down if that came first.
        public var until: ContinuousClock.Instant
    }

    private struct Guarded {
        var status: HotColdStatus
        /// The token and deadline while hot.
        var hot: (token: UInt64, until: ContinuousClock.Instant)?
        var unhealthyUpstream = false
        var periods: [HotPeriod] = []
        /// Writes admitted with a token whose answer has not come yet.
        var writesInFlight = 0
        /// Those waiting for ``writesInFlight`` to reach 0, by waiter number.
        var drainWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waiters cancelled before they could register (they must not wait).
        var cancelledWaiters: Set<UInt64> = []
        var nextWaiter: UInt64 = 0

        func token(at now: ContinuousClock.Instant) -> UInt64? {
            guard !unhealthyUpstream, let hot, now < hot.until else { return nil }
            return hot.token
        }
    }

    /// How many past hot periods ``recentHotPeriods`` keeps.
    public static let periodsKept = 64

    private let guarded: Mutex<Guarded>

    /// A gate that starts cold with `status`.
    public init(status: HotColdStatus) {
        guarded = Mutex(Guarded(status: status))
    }

    // MARK: Questions

    /// The token to act with right now, or nil when this replica must not act as hot. Ask it
    /// immediately before every action (forwarding a write, answering `/readyz?hot`).
    public func fencingToken(at now: ContinuousClock.Instant = .now) -> UInt64? {
        guarded.withLock { $0.token(at: now) }
    }

    // MARK: Writes in flight

    /// ``fencingToken(at:)`` for a write about to be passed to the upstream: with a token, the
    /// write counts as in flight until ``writeAnswered()`` (call it exactly once, when the
    /// upstream answered or the attempt failed). Asked under the same lock that closes the gate,
    /// so once the gate is closed no write is admitted that a hand-over would not wait for.
    public func admitWrite(at now: ContinuousClock.Instant = .now) -> UInt64? {
        guarded.withLock { guarded in
            guard let token = guarded.token(at: now) else { return nil }
            guarded.writesInFlight += 1
            return token
        }
    }

    /// A write admitted by ``admitWrite(at:)`` has been answered (or failed).
    public func writeAnswered() {
        let waiters = guarded.withLock { guarded -> [CheckedContinuation<Void, Never>] in
            guarded.writesInFlight = max(0, guarded.writesInFlight - 1)
            guard guarded.writesInFlight == 0 else { return [] }
            defer { guarded.drainWaiters = [:] }
            return Array(guarded.drainWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Writes admitted and not answered yet.
    public var writesInFlight: Int { guarded.withLock { $0.writesInFlight } }

    /// Waits until no admitted write is in flight, at most `timeout` (or until the task is
    /// cancelled); true when none is left.
    public func waitForWritesInFlight(within timeout: Duration) async -> Bool {
        if writesInFlight == 0 { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.noWritesInFlight()
                return self.writesInFlight == 0
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Returns once ``writesInFlight`` is 0, or the task is cancelled.
    private func noWritesInFlight() async {
        let id = guarded.withLock { guarded in
            guarded.nextWaiter += 1
            return guarded.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = guarded.withLock { guarded in
                    if guarded.writesInFlight == 0 || guarded.cancelledWaiters.remove(id) != nil { return true }
                    guarded.drainWaiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = guarded.withLock { guarded -> CheckedContinuation<Void, Never>? in
                if let waiter = guarded.drainWaiters.removeValue(forKey: id) { return waiter }
                // Not registered yet (or already resumed; then the mark is never read again).
                if guarded.writesInFlight > 0 { guarded.cancelledWaiters.insert(id) }
                return nil
            }
            waiter?.resume()
        }
    }

    /// The status at `now`: hot only while ``fencingToken(at:)`` would give a token (a passed
    /// deadline shows as `suspended` — the holder stopped acting and is renewing — until the
    /// shell marks it cold; a closed gate as cold, `unhealthy`).
    public func status(at now: ContinuousClock.Instant = .now) -> HotColdStatus {
        guarded.withLock { guarded in
            var status = guarded.status
            if status.state == .hot {
                if guarded.unhealthyUpstream {
                    status.state = .cold
                    status.coldReason = .unhealthy
                } else if let hot = guarded.hot, now >= hot.until {
                    status.state = .suspended
                }
            }
            return status
        }
    }

    /// The latest hot periods, oldest first (at most ``periodsKept``).
    public var recentHotPeriods: [HotPeriod] { guarded.withLock { $0.periods } }

    // MARK: Driving it (lease shells)

    /// The replica became hot with `token` until `until` (or, already hot with `token`, its
    /// deadline moved to `until`; or, suspended with `token`, it resumed acting: a new period
    /// starts, with no change of state, token or since).
    public func markHot(token: UInt64, until: ContinuousClock.Instant, now: ContinuousClock.Instant, wallNanoseconds: Int64) {
        guarded.withLock { guarded in
            if let hot = guarded.hot, hot.token == token, guarded.status.state == .hot {
                guarded.hot = (token, until)
                if let last = guarded.periods.indices.last, guarded.periods[last].token == token, now < hot.until {
                    guarded.periods[last].until = until
                } else {
                    guarded.periods.append(HotPeriod(token: token, from: now, until: until))
                    if guarded.periods.count > Self.periodsKept { guarded.periods.removeFirst() }
                }
                return
            }
            guarded.hot = (token, until)
            guarded.status.state = .hot
            guarded.status.token = token
            guarded.status.sinceWallNanoseconds = wallNanoseconds
            guarded.status.coldReason = nil
            guarded.periods.append(HotPeriod(token: token, from: now, until: until))
            if guarded.periods.count > Self.periodsKept { guarded.periods.removeFirst() }
        }
    }

    /// The replica became cold at `now` for `reason`.
    public func markCold(reason: LeaseHolder.ColdReason, now: ContinuousClock.Instant, wallNanoseconds: Int64) {
        guarded.withLock { guarded in
            if let last = guarded.periods.indices.last, guarded.hot != nil, guarded.periods[last].until > now {
                guarded.periods[last].until = now
            }
            guarded.hot = nil
            guarded.status.state = .cold
            guarded.status.coldReason = reason
            guarded.status.sinceWallNanoseconds = wallNanoseconds
        }
    }

    /// Closes the gate at once while the upstream is unhealthy (the shell steps down right after).
    public func closeForUnhealthyUpstream(_ unhealthy: Bool) {
        guarded.withLock { $0.unhealthyUpstream = unhealthy }
    }

    /// Changes the parts of the status that are not hot or cold (holder, health, priority).
    public func updateStatus(_ change: (inout HotColdStatus) -> Void) {
        guarded.withLock { guarded in
            var status = guarded.status
            change(&status)
            // State, token and since belong to markHot/markCold.
            status.state = guarded.status.state
            status.token = guarded.status.token
            status.sinceWallNanoseconds = guarded.status.sinceWallNanoseconds
            status.coldReason = guarded.status.coldReason
            guarded.status = status
        }
    }
}
