import DiscoNet

// MARK: - SystemResolverCalls

/// The blocking system-resolver calls running, at most one per name and kind (DiscoNet's
/// `SharedBlockingCalls`, which `SocketAddress.resolveAsync` goes through too).
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

    private struct Key: Hashable, Sendable {
        var name: String
        var kind: Kind
    }

    private let calls = SharedBlockingCalls<Key, Outcome>(label: "disco.dns.getaddrinfo")

    init() {}

    /// How many calls have not returned yet.
    var running: Int { calls.running }

    /// How many callers wait for the running call for `name`.
    func waiting(for name: String, kind: Kind = .addresses) -> Int {
        calls.waiting(for: Key(name: name.lowercased(), kind: kind))
    }

    /// The result of `call` for `name`, run on a thread of its own unless a call for `name` and
    /// `kind` is running already (then that one's result), or a timeout error after `timeout`
    /// (or at once, when that call has run past `timeout` already). A caller whose task is
    /// cancelled stops waiting and gets a timeout error saying so.
    ///
    /// - Parameters:
    ///   - server: how errors name the resolver.
    ///   - question: how errors name what was asked.
    func run(_ name: String, kind: Kind, timeout: Duration, server: String, question: String,
             _ call: @escaping @Sendable () -> Outcome) async -> Outcome {
        switch await calls.run(Key(name: name.lowercased(), kind: kind), timeout: timeout, call) {
        case .returned(let outcome):
            return outcome
        case .timedOut:
            return .failure(DNSLookupError(.timeout, server: server, question: question, detail: "\(kind) did not return within \(timeout)"))
        case .stuck(let age):
            return .failure(DNSLookupError(
                .timeout, server: server, question: question,
                detail: "the \(kind) call for \(name) started \(age) ago has not returned and cannot be cancelled; "
                    + "no other is started for the name until it returns"))
        case .cancelled:
            return .failure(DNSLookupError(.timeout, server: server, question: question,
                                           detail: "the lookup was cancelled while \(kind) ran"))
        }
    }
}
