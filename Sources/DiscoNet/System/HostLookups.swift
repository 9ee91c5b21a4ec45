import DiscoCore

// MARK: - HostLookups

/// The system resolver's lookups of host names (`getaddrinfo`), at most one per name at a time
/// across the process (``SharedBlockingCalls``), each caller's wait bounded by its timeout.
///
/// `getaddrinfo` blocks, for seconds when a DNS server does not answer, and cannot be cancelled.
/// Connections to a name (a proxy's upstream, a Raft peer, a member advertised by name) would
/// otherwise each start a call of their own on a thread of its own: with the DNS server down,
/// one stuck thread per connection attempt, and connects far past their timeout. Here callers
/// of a name whose call is running wait for it and share its answer; a caller's timeout (or its
/// task's cancellation) ends its wait while the call finishes on its own thread; a caller that
/// finds the call already running longer than its timeout fails at once, naming it. The answer
/// is not kept: once the call returns, the next caller starts a new one (the resolver and
/// nscd cache, as before).
final class HostLookups: Sendable {
    /// A blocking lookup of every address of a host, in the resolver's order, with port 0.
    typealias BlockingLookup = @Sendable (_ host: String) -> Result<[SocketAddress], AddressResolutionError>

    /// The process's lookups through `getaddrinfo`.
    static let system = HostLookups { host in
        Result { () throws(AddressResolutionError) in try SocketAddress.resolve(host: host, port: 0) }
    }

    private let calls = SharedBlockingCalls<String, Result<[SocketAddress], AddressResolutionError>>(label: "disco.net.getaddrinfo")
    private let lookup: BlockingLookup

    /// Lookups that call `lookup` (on a thread of its own, once per name at a time).
    init(lookup: @escaping BlockingLookup) {
        self.lookup = lookup
    }

    /// How many calls have not returned yet.
    var running: Int { calls.running }

    /// How many callers wait for the running call for `host`.
    func waiting(for host: String) -> Int { calls.waiting(for: host.lowercased()) }

    /// Every address of `host` with `port`, waiting at most `timeout` for the lookup. Throws
    /// ``AddressResolutionError`` (its ``AddressResolutionError/kind`` `.timedOut` when the
    /// lookup did not answer in time), or `CancellationError` when the caller's task is cancelled.
    func addresses(of host: String, port: UInt16, timeout: Duration) async throws -> [SocketAddress] {
        let lookup = self.lookup
        switch await calls.run(host.lowercased(), timeout: timeout, { lookup(host) }) {
        case .returned(let result):
            return try result.get().map { SocketAddress(bytes: $0.addressBytes, port: port, scopeID: $0.scopeID) }
        case .timedOut(let waited):
            throw AddressResolutionError(
                host: host, kind: .timedOut,
                reason: "getaddrinfo did not answer within \(GoDuration.format(timeout)) (waited \(GoDuration.format(waited))); "
                    + "the lookup goes on without this caller")
        case .stuck(let age):
            throw AddressResolutionError(
                host: host, kind: .timedOut,
                reason: "the getaddrinfo call for it has run for \(GoDuration.format(age)), past this lookup's timeout of "
                    + "\(GoDuration.format(timeout)), and cannot be cancelled; no other call for the name starts until it returns")
        case .cancelled:
            throw CancellationError()
        }
    }
}
