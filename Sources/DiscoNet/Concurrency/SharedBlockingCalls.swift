import DiscoCore
import Dispatch
import Synchronization

// MARK: - SharedBlockingCalls

/// Blocking calls that cannot be cancelled (`getaddrinfo`), at most one per key at a time, each
/// on a thread of its own, their waiters bounded by their own timeouts and cancellation.
///
/// A call that outlives its caller keeps its thread until it returns. If every caller started a
/// fresh call, a resolver that does not answer would pile up one stuck thread per caller (a
/// proxy opening 64 connections to one name: 64 threads in `getaddrinfo`). Instead, a caller
/// that finds a call for its key running joins it and shares its result. A caller's wait ends
/// at its timeout or when its task is cancelled, while the call finishes on its own thread; when
/// the running call has already run past the caller's timeout, the caller fails at once rather
/// than wait on it again. Once the call returns, the next caller starts a new one.
package final class SharedBlockingCalls<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// How a caller's wait ended.
    package enum Outcome: Sendable {
        /// The call returned `Value` (this caller's, or the one it joined).
        case returned(Value)
        /// The caller's timeout passed after `waited` while the call ran; it goes on.
        case timedOut(waited: Duration)
        /// The call for the key had run for `age`, past the caller's timeout, when it asked.
        case stuck(age: Duration)
        /// The caller's task was cancelled while it waited.
        case cancelled
    }

    private struct Call {
        let started: ContinuousClock.Instant
        /// The callers still waiting for it, by waiter number.
        var waiters: [UInt64: CheckedContinuation<Outcome, Never>]
    }

    private struct State {
        var calls: [Key: Call] = [:]
        var nextWaiter: UInt64 = 0
    }

    /// What a caller does about its key.
    private enum Decision {
        case start
        case join
        case stuck(age: Duration)
        case cancelled
    }

    private let label: String
    private let state = Mutex(State())

    /// `label` names the calls' dispatch queues (`disco.net.getaddrinfo`).
    package init(label: String) {
        self.label = label
    }

    /// How many calls have not returned yet.
    package var running: Int { state.withLock { $0.calls.count } }

    /// How many callers wait for the running call for `key`.
    package func waiting(for key: Key) -> Int {
        state.withLock { $0.calls[key]?.waiters.count ?? 0 }
    }

    /// What `call` returns, run on a thread of its own unless a call for `key` is running already
    /// (then that one's result); ``Outcome/timedOut(waited:)`` after `timeout`,
    /// ``Outcome/cancelled`` when the caller's task is cancelled first.
    package func run(_ key: Key, timeout: Duration, _ call: @escaping @Sendable () -> Value) async -> Outcome {
        let waiter = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let asked = ContinuousClock.now
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                let decision = state.withLock { state -> Decision in
                    // Checked under the lock the cancellation handler takes: a cancellation
                    // either shows here or finds this waiter registered.
                    guard !Task.isCancelled else { return .cancelled }
                    guard var running = state.calls[key] else {
                        state.calls[key] = Call(started: asked, waiters: [waiter: continuation])
                        return .start
                    }
                    let age = asked - running.started
                    guard age < timeout else { return .stuck(age: age) }
                    running.waiters[waiter] = continuation
                    state.calls[key] = running
                    return .join
                }
                switch decision {
                case .cancelled:
                    continuation.resume(returning: .cancelled)
                    return
                case .stuck(let age):
                    continuation.resume(returning: .stuck(age: age))
                    return
                case .start:
                    DispatchQueue(label: label).async {
                        let value = call()
                        let waiters = self.state.withLock { $0.calls.removeValue(forKey: key)?.waiters ?? [:] }
                        for waiting in waiters.values { waiting.resume(returning: .returned(value)) }
                    }
                case .join:
                    break
                }
                sharedCallTimers.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: GoDuration.nanoseconds(of: timeout)))) {
                    // The call may have returned (and resumed this caller) first.
                    self.take(waiter, of: key)?.resume(returning: .timedOut(waited: .now - asked))
                }
            }
        } onCancel: {
            take(waiter, of: key)?.resume(returning: .cancelled)
        }
    }

    /// Removes `waiter` from the call for `key` and returns its continuation; nil when it has
    /// been resumed already (or never waited).
    private func take(_ waiter: UInt64, of key: Key) -> CheckedContinuation<Outcome, Never>? {
        state.withLock { $0.calls[key]?.waiters.removeValue(forKey: waiter) }
    }
}

/// The timers bounding waits on shared calls: each only takes a lock and resumes a waiter.
private let sharedCallTimers = DispatchQueue(label: "disco.net.shared-call-timers")

