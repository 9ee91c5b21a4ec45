import DNSServerCore
import DiscoDNSMessage
import DiscoNet
import Synchronization

// MARK: - The addresses of members' host names

/// The addresses of the host names members advertise, for each rebuild of the zone.
///
/// Every name is looked up at once, each at most once at a time: a lookup still running from an
/// earlier rebuild is waited for again rather than started twice (`getaddrinfo` cannot be
/// cancelled, so a name whose resolver never answers would otherwise pile up threads). A rebuild
/// waits for a lookup only until `timeout` after it started, so one slow or unreachable name
/// delays a rebuild by at most `timeout`, and a rebuild after that does not wait for it at all.
///
/// A name whose lookup fails or times out keeps the addresses of its last successful lookup for
/// `staleLimit` from when its lookups started failing; after that it has none until one succeeds.
/// A lookup that ends after its rebuild gave up on it calls `lateAnswer` when it changes what the
/// name would be served at, so the zone is rebuilt with it.
final class MemberHostAddresses: Sendable {
    let timeout: Duration
    let staleLimit: Duration
    private let resolve: HostNameResolution
    private let lateAnswer: @Sendable () -> Void
    private let state = Mutex(State())
    /// The lookups and wait timers running: the role cancels them when it stops
    /// (``cancelLookups()``; a lookup blocked in `getaddrinfo` still ends on its own).
    private let tasks = OwnedTasks()

    private struct Entry {
        /// The addresses of the last lookup that succeeded (nil: none has).
        var addresses: [DNSIPAddress]?
        /// Since when its lookups fail or time out (nil: the last one succeeded, or none ended).
        var failingSince: ContinuousClock.Instant?
        /// The lookup running: its number and when it started.
        var lookup: (id: UInt64, started: ContinuousClock.Instant)?
        /// What it was served at by the last rebuild.
        var served: [DNSIPAddress] = []

        func serving(at now: ContinuousClock.Instant, staleLimit: Duration) -> [DNSIPAddress] {
            guard let failingSince else { return addresses ?? [] }
            return now - failingSince < staleLimit ? addresses ?? [] : []
        }
    }

    /// A rebuild waiting for lookups.
    private struct Waiter {
        var pending: Set<String>
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextLookup: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
    }

    init(timeout: Duration, staleLimit: Duration, resolve: @escaping HostNameResolution, lateAnswer: @escaping @Sendable () -> Void) {
        self.timeout = timeout
        self.staleLimit = staleLimit
        self.resolve = resolve
        self.lateAnswer = lateAnswer
    }

    /// The addresses to serve each of `hosts` at now (names no longer asked for are forgotten).
    func addresses(of hosts: Set<String>) async -> [String: [DNSIPAddress]] {
        let now = ContinuousClock.now
        let (starts, pending, deadline) = state.withLock { state in
            state.entries = state.entries.filter { hosts.contains($0.key) }
            var starts: [(host: String, id: UInt64)] = []
            var pending: Set<String> = []
            var deadline = now
            for host in hosts {
                var entry = state.entries[host] ?? Entry()
                let lookup = entry.lookup ?? (state.nextLookup, now)
                if entry.lookup == nil {
                    state.nextLookup += 1
                    entry.lookup = lookup
                    starts.append((host, lookup.id))
                }
                if lookup.started + timeout > now {
                    pending.insert(host)
                    deadline = max(deadline, lookup.started + timeout)
                }
                state.entries[host] = entry
            }
            return (starts, pending, deadline)
        }
        for start in starts {
            // Not a child task: a lookup that never ends must not keep the rebuild waiting.
            tasks.spawn { [self] in
                let result: Result<[DNSIPAddress], any Error>
                do {
                    result = .success(try await resolve(start.host))
                } catch {
                    result = .failure(error)
                }
                finished(start.host, lookup: start.id, result)
            }
        }
        if !pending.isEmpty { await wait(for: pending, until: deadline) }
        return state.withLock { state in
            let now = ContinuousClock.now
            var served: [String: [DNSIPAddress]] = [:]
            for host in hosts {
                guard var entry = state.entries[host] else { continue }
                // A lookup past its time counts as failing from when it ran out of it.
                if let lookup = entry.lookup, lookup.started + timeout <= now, entry.failingSince == nil {
                    entry.failingSince = lookup.started + timeout
                }
                entry.served = entry.serving(at: now, staleLimit: staleLimit)
                served[host] = entry.served
                state.entries[host] = entry
            }
            return served
        }
    }

    /// When the next name served at stale addresses loses them (the zone must be rebuilt then).
    func nextStaleExpiry() -> ContinuousClock.Instant? {
        state.withLock { state in
            state.entries.values.filter { !$0.served.isEmpty }.compactMap { $0.failingSince.map { $0 + staleLimit } }.min()
        }
    }

    // MARK: Lookups ending

    private func finished(_ host: String, lookup id: UInt64, _ result: Result<[DNSIPAddress], any Error>) {
        let now = ContinuousClock.now
        let (ready, late) = state.withLock { state -> ([CheckedContinuation<Void, Never>], Bool) in
            guard var entry = state.entries[host], entry.lookup?.id == id else { return ([], false) }
            entry.lookup = nil
            switch result {
            case .success(let addresses):
                entry.addresses = Array(Set(addresses)).sorted()
                entry.failingSince = nil
            case .failure:
                entry.failingSince = entry.failingSince ?? now
            }
            state.entries[host] = entry
            var waited = false
            var ready: [CheckedContinuation<Void, Never>] = []
            for (number, var waiter) in state.waiters where waiter.pending.contains(host) {
                waited = true
                waiter.pending.remove(host)
                if waiter.pending.isEmpty {
                    state.waiters[number] = nil
                    ready.append(waiter.continuation)
                } else {
                    state.waiters[number] = waiter
                }
            }
            return (ready, !waited && entry.serving(at: now, staleLimit: staleLimit) != entry.served)
        }
        for continuation in ready { continuation.resume() }
        if late { lateAnswer() }
    }

    /// Returns when every lookup of `hosts` ended, at `deadline`, or when the task is cancelled.
    private func wait(for hosts: Set<String>, until deadline: ContinuousClock.Instant) async {
        let number = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let timer = Mutex<Task<Void, Never>?>(nil)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let registered = state.withLock { state in
                    let pending = hosts.filter { state.entries[$0]?.lookup != nil }
                    if !pending.isEmpty { state.waiters[number] = Waiter(pending: pending, continuation: continuation) }
                    return !pending.isEmpty
                }
                guard registered else { return continuation.resume() }
                // Started once the waiter is registered, so its release cannot come first.
                timer.withLock {
                    $0 = tasks.start { [self] in
                        try? await Task.sleep(until: deadline)
                        release(number)
                    }
                }
                if Task.isCancelled { release(number) }
            }
        } onCancel: {
            release(number)
        }
        timer.withLock { $0?.cancel() }
    }

    /// Cancels the lookups and timers still running (the role stopped).
    func cancelLookups() {
        tasks.cancelAll()
    }

    /// Resumes waiter `number` if it still waits.
    private func release(_ number: UInt64) {
        state.withLock { $0.waiters.removeValue(forKey: number) }?.continuation.resume()
    }
}
