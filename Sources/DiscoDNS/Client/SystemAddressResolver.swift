// CResolv's header brings in the socket structs; importing it makes their members visible.
import CResolv
@preconcurrency import Glibc

// MARK: - HostAddressResolving

/// Turns a host name into its IPv4 and IPv6 addresses.
public protocol HostAddressResolving: Sendable {
    /// The server as named in errors.
    var serverDescription: String { get }

    /// All A and AAAA addresses of `name`, sorted and de-duplicated. Throws when the name does
    /// not exist, has neither kind of address, or the server fails.
    func addresses(of name: DNSName) async throws(DNSLookupError) -> [DNSIPAddress]
}

// MARK: - SystemAddressResolver

/// Resolves names with `getaddrinfo` (the system resolver: `/etc/hosts`, nsswitch, resolv.conf)
/// on a background thread, giving up after `timeout`.
///
/// `getaddrinfo` cannot be cancelled; after a timeout its thread finishes on its own and the
/// result is dropped. At most one call per name runs at a time, process-wide
/// (``SystemResolverCalls``): a lookup of a name whose call is still running waits for that call,
/// or fails at once naming it when it has already run past `timeout`, so a dead resolver holds
/// one thread per name rather than one per discovery round.
public struct SystemAddressResolver: HostAddressResolving {
    /// A blocking stand-in for `getaddrinfo`, given the name as text.
    typealias BlockingLookup = @Sendable (String) -> Result<[DNSIPAddress], DNSLookupError>

    public let timeout: Duration
    public var serverDescription: String { Self.server }
    private static let server = "system resolver (getaddrinfo)"
    private let calls: SystemResolverCalls
    private let blockingLookup: BlockingLookup

    public init(timeout: Duration = .seconds(10)) {
        self.init(timeout: timeout, calls: .shared, lookup: { Self.lookupBlocking($0) })
    }

    /// A resolver whose calls go to `lookup`, one per name at a time among the resolvers sharing
    /// `calls`.
    init(timeout: Duration, calls: SystemResolverCalls, lookup: @escaping BlockingLookup) {
        self.timeout = timeout
        self.calls = calls
        blockingLookup = lookup
    }

    public func addresses(of name: DNSName) async throws(DNSLookupError) -> [DNSIPAddress] {
        let text = name.description
        let lookup = blockingLookup
        return try await calls.run(text, kind: .addresses, timeout: timeout, server: Self.server, question: Self.question(text)) {
            lookup(text)
        }.get()
    }

    private static func question(_ name: String) -> String { "A/AAAA \(name)" }

    private static func lookupBlocking(_ name: String) -> Result<[DNSIPAddress], DNSLookupError> {
        let server = Self.server
        let question = Self.question(name)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0 else {
            let text = gai_strerror(status).map { String(cString: $0) } ?? "error \(status)"
            let code: DNSLookupError.Code
            switch status {
            case EAI_NONAME: code = .nameDoesNotExist
            case -5: code = .noRecords  // EAI_NODATA (a GNU extension, not always imported)
            case EAI_AGAIN: code = .timeout
            case EAI_FAIL: code = .serverFailure
            default: code = .systemFailure
            }
            return .failure(DNSLookupError(code, server: server, question: question, detail: "getaddrinfo: \(text)"))
        }
        var found = Set<DNSIPAddress>()
        var cursor = list
        while let entry = cursor {
            if let sockaddr = entry.pointee.ai_addr {
                switch entry.pointee.ai_family {
                case AF_INET:
                    let v4 = UnsafeRawPointer(sockaddr).loadUnaligned(as: sockaddr_in.self)
                    if let address = DNSIPAddress(bytes: withUnsafeBytes(of: v4.sin_addr) { Array($0) }) { found.insert(address) }
                case AF_INET6:
                    let v6 = UnsafeRawPointer(sockaddr).loadUnaligned(as: sockaddr_in6.self)
                    if let address = DNSIPAddress(bytes: withUnsafeBytes(of: v6.sin6_addr) { Array($0) }) { found.insert(address) }
                default:
                    break
                }
            }
            cursor = entry.pointee.ai_next
        }
        guard !found.isEmpty else {
            return .failure(DNSLookupError(.noRecords, server: server, question: question, detail: "getaddrinfo returned no IPv4 or IPv6 addresses"))
        }
        return .success(found.sorted())
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ attoseconds / 1_000_000_000
    }
}
