import Dispatch
import Synchronization

// MARK: - SystemResolverCalls

/// The blocking system-resolver calls running, at most one per name and kind.
///
/// `getaddrinfo` cannot be cancelled: a call that outlives its caller's timeout keeps its thread
/// until the resolver answers. If every discovery round started a fresh call, a dead resolver
/// would pile up one stuck thread per round. Instead, a caller that finds a call for the same
/// name and kind still running joins it and shares its result; when that call has already run
/// past the caller's timeout, the caller fails at once with an error naming the stuck call rather
/// than wait on it again. Once the call returns, the next caller starts a new one.
final class SystemResolverCalls: Sendable {
    /// What a call asks the system resolver.
    enum Kind: Hashable, Sendable, CustomStringConvertible {
        /// `getaddrinfo` for A and AAAA addresses.
        case addresses

        var description: String {
            switch self {
            case .addresses: "getaddrinfo"
            }
        }
    }

    typealias Outcome = Result<[DNSIPAddress], DNSLookupError>

    /// The calls of the whole process; every ``SystemAddressResolver`` shares it unless a test
    /// gives it its own.
    static let shared = SystemResolverCalls()

    private struct Key: Hashable {
        var name: String
        var kind: Kind
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

    /// What a caller does about a name.
    private enum Decision {
        case start(waiter: UInt64)
        case join(waiter: UInt64)
        case stuck(age: Duration)
    }

    private let state = Mutex(State())

    init() {}

    /// How many calls have not returned yet.
    var running: Int { state.withLock { $0.calls.count } }

    /// How many callers wait for the running call for `name`.
    func waiting(for name: String, kind: Kind = .addresses) -> Int {
        state.withLock { $0.calls[Key(name: name.lowercased(), kind: kind)]?.waiters.count ?? 0 }
    }

    /// The result of `call` for `name`, run on a thread of its own unless a call for `name` and
    /// `kind` is running already (then that one's result), or a timeout error after `timeout`.
    ///
    /// - Parameters:
    ///   - server: how errors name the resolver.
    ///   - question: how errors name what was asked.
    func run(_ name: String, kind: Kind, timeout: Duration, server: String, question: String,
             _ call: @escaping @Sendable () -> Outcome) async -> Outcome {
        let key = Key(name: name.lowercased(), kind: kind)
        return await withCheckedContinuation { continuation in
            let now = ContinuousClock.now
            let decision = state.withLock { state -> Decision in
                let waiter = state.nextWaiter
                state.nextWaiter += 1
                guard var running = state.calls[key] else {
                    state.calls[key] = Call(started: now, waiters: [waiter: continuation])
                    return .start(waiter: waiter)
                }
                let age = now - running.started
                guard age < timeout else { return .stuck(age: age) }
                running.waiters[waiter] = continuation
                state.calls[key] = running
                return .join(waiter: waiter)
            }
            let waiter: UInt64
            switch decision {
            case .stuck(let age):
                continuation.resume(returning: .failure(DNSLookupError(
                    .timeout, server: server, question: question,
                    detail: "the \(kind) call for \(name) started \(age) ago has not returned and cannot be cancelled; "
                        + "no other is started for the name until it returns")))
                return
            case .start(let started):
                waiter = started
                DispatchQueue(label: "disco.dns.\(kind)").async {
                    let outcome = call()
                    let waiters = self.state.withLock { $0.calls.removeValue(forKey: key)?.waiters ?? [:] }
                    for waiting in waiters.values { waiting.resume(returning: outcome) }
                }
            case .join(let joined):
                waiter = joined
            }
            DispatchQueue(label: "disco.dns.\(kind)-timer").asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: timeout.nanoseconds))) {
                // The call may have returned (and resumed this caller) first.
                let waiting = self.state.withLock { $0.calls[key]?.waiters.removeValue(forKey: waiter) }
                waiting?.resume(returning: .failure(DNSLookupError(
                    .timeout, server: server, question: question, detail: "\(kind) did not return within \(timeout)")))
            }
        }
    }
}
