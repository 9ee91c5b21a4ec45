#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import CDiscoEpoll

// MARK: - Socket addresses

/// An IPv4 or IPv6 address with a port, as a plain value.
///
/// Converted to `sockaddr_in`/`sockaddr_in6` only at the syscall boundary.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// Raw address bytes in network order: 4 for IPv4, 16 for IPv6.
    public let addressBytes: [UInt8]
    /// The port in host byte order.
    public let port: UInt16
    /// The IPv6 scope (interface) id; 0 for IPv4 and global addresses.
    public let scopeID: UInt32

    /// True for IPv6 addresses.
    public var isIPv6: Bool { addressBytes.count == 16 }

    /// Creates an address from a numeric host (`"127.0.0.1"`, `"::1"`, `"[::1]"`, or a link-local
    /// IPv6 address with its zone, `"fe80::1%eth0"` or `"fe80::1%2"`) and a port.
    /// Returns nil when `host` is not a numeric address (or names an unknown interface); use
    /// ``resolve(host:port:)`` for names.
    public init?(numericHost host: String, port: UInt16) {
        var text = host
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = withUnsafeBytes(of: &v4) { SocketAddress(bytes: Array($0), port: port, scopeID: 0) }
            return
        }
        var scopeID: UInt32 = 0
        if let percent = text.firstIndex(of: "%") {
            let zone = String(text[text.index(after: percent)...])
            text = String(text[..<percent])
            if let index = UInt32(zone) {
                scopeID = index
            } else {
                scopeID = if_nametoindex(zone)
                guard scopeID != 0 else { return nil }
            }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = withUnsafeBytes(of: &v6) { SocketAddress(bytes: Array($0), port: port, scopeID: scopeID) }
            return
        }
        return nil
    }

    init(bytes: [UInt8], port: UInt16, scopeID: UInt32) {
        self.addressBytes = bytes
        self.port = port
        self.scopeID = scopeID
    }

    /// The same host (and scope) with another port.
    public func withPort(_ port: UInt16) -> SocketAddress {
        SocketAddress(bytes: addressBytes, port: port, scopeID: scopeID)
    }

    /// True for the unspecified (wildcard) address of either family, `0.0.0.0` or `::`: bound,
    /// it listens on every interface.
    public var isUnspecified: Bool { addressBytes.allSatisfy { $0 == 0 } }

    /// True for an IPv4 address in IPv6 form (`::ffff:a.b.c.d`): how an IPv4 peer of a
    /// dual-stack `[::]` socket is seen.
    public var isIPv4Mapped: Bool {
        addressBytes.count == 16 && addressBytes[10] == 0xff && addressBytes[11] == 0xff && addressBytes[..<10].allSatisfy { $0 == 0 }
    }

    /// The host part as text: `127.0.0.1` or `::1`. An IPv4-mapped address (an IPv4 client of a
    /// dual-stack listener) reads as the IPv4 address it stands for, as Go prints it, so a
    /// client's address in `X-Forwarded-For`, rate-limit keys and logs is the same whether the
    /// listener is `0.0.0.0` or `[::]`.
    public var host: String {
        if addressBytes.count == 4 || isIPv4Mapped {
            // Dotted decimal by hand: inet_ntop formats through sprintf, and a proxy asks for
            // its client's address on every request. At most 15 bytes: a small string, no
            // allocation.
            let bytes = addressBytes.suffix(4)
            return String(unsafeUninitializedCapacity: 15) { text in
                var count = 0
                for (index, byte) in zip(0..., bytes) {
                    if index > 0 { text[count] = UInt8(ascii: "."); count += 1 }
                    if byte >= 100 { text[count] = 0x30 + byte / 100; count += 1 }
                    if byte >= 10 { text[count] = 0x30 + (byte / 10) % 10; count += 1 }
                    text[count] = 0x30 + byte % 10
                    count += 1
                }
                return count
            }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = isIPv6 ? AF_INET6 : AF_INET
        let ok = addressBytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return "?" }
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `host:port`, with IPv6 hosts in brackets: `[::1]:8080` (and a zone as its index:
    /// `[fe80::1%2]:53`).
    public var description: String {
        guard isIPv6, !isIPv4Mapped else { return "\(host):\(port)" }
        return scopeID == 0 ? "[\(host)]:\(port)" : "[\(host)%\(scopeID)]:\(port)"
    }

    // MARK: Syscall boundary

    /// Calls `body` with a `sockaddr` pointer and length describing this address.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> R) throws(SystemError) -> R {
        var storage = sockaddr_storage()
        let length: socklen_t
        if isIPv6 {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            sin6.sin6_scope_id = scopeID
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: addressBytes) }
            withUnsafeMutableBytes(of: &storage) { raw in
                withUnsafeBytes(of: &sin6) { raw.copyMemory(from: $0) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: addressBytes) }
            withUnsafeMutableBytes(of: &storage) { raw in
                withUnsafeBytes(of: &sin) { raw.copyMemory(from: $0) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        return try withUnsafePointer(to: &storage) { pointer throws(SystemError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (p) throws(SystemError) -> R in
                try body(p, length)
            }
        }
    }

    /// Reads an address out of a `sockaddr_storage` filled in by the kernel. An IPv4 peer of a
    /// dual-stack IPv6 socket, which the kernel reports as `::ffff:a.b.c.d`, is read as the
    /// IPv4 address it is: it prints, compares and hashes as it would through an IPv4 socket
    /// (client addresses, rate-limit keys, hop trust, gossip senders). A dual-stack socket sends
    /// to an IPv4 address as it is.
    init?(storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in.self) }
            var addr = sin.sin_addr
            let bytes = withUnsafeBytes(of: &addr) { Array($0) }
            self.init(bytes: bytes, port: UInt16(bigEndian: sin.sin_port), scopeID: 0)
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in6.self) }
            var addr = sin6.sin6_addr
            let bytes = withUnsafeBytes(of: &addr) { Array($0) }
            let mapped = SocketAddress(bytes: bytes, port: UInt16(bigEndian: sin6.sin6_port), scopeID: sin6.sin6_scope_id)
            self = mapped.isIPv4Mapped ? SocketAddress(bytes: Array(bytes[12...]), port: mapped.port, scopeID: 0) : mapped
        default:
            return nil
        }
    }

    // MARK: Name resolution

    /// Resolves `host` (a name or a numeric address) with `getaddrinfo`, returning every address in
    /// the resolver's order. An empty host or `::` means every interface: `[::]` first (bound
    /// dual-stack, it takes IPv4 connections too), then `0.0.0.0` (for a listener where IPv6 is
    /// off). Blocking: call from a thread that may block (see ``resolveAsync``).
    public static func resolve(host: String, port: UInt16) throws(AddressResolutionError) -> [SocketAddress] {
        if let every = everyInterface(host: host, port: port) { return every }
        if let numeric = SocketAddress(numericHost: host, port: port) { return [numeric] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            let reason = String(cString: gai_strerror(status))
            throw AddressResolutionError(host: host, reason: reason)
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let sa = info.pointee.ai_addr {
                var storage = sockaddr_storage()
                let length = min(Int(info.pointee.ai_addrlen), MemoryLayout<sockaddr_storage>.size)
                withUnsafeMutableBytes(of: &storage) { raw in
                    raw.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: length))
                }
                if let address = SocketAddress(storage: storage), !addresses.contains(address) {
                    addresses.append(address)
                }
            }
            cursor = info.pointee.ai_next
        }
        if addresses.isEmpty { throw AddressResolutionError(host: host, reason: "no IPv4 or IPv6 address") }
        return addresses
    }

    /// The wildcard addresses, IPv6 first, for an empty host or `::` (in any spelling); nil for
    /// any other host.
    private static func everyInterface(host: String, port: UInt16) -> [SocketAddress]? {
        if !host.isEmpty {
            guard host.contains(":"), let numeric = SocketAddress(numericHost: host, port: port), numeric.isIPv6,
                  numeric.isUnspecified, numeric.scopeID == 0
            else { return nil }
        }
        return [SocketAddress(bytes: [UInt8](repeating: 0, count: 16), port: port, scopeID: 0),
                SocketAddress(bytes: [0, 0, 0, 0], port: port, scopeID: 0)]
    }

    /// Whether a listener on `address` need not be opened: it is the IPv4 wildcard and a
    /// dual-stack IPv6 wildcard listener on its port is among `bound` (it takes IPv4 too).
    public static func isCoveredByDualStack(_ address: SocketAddress, bound: [SocketAddress]) -> Bool {
        !address.isIPv6 && address.isUnspecified
            && bound.contains { $0.isIPv6 && $0.isUnspecified && (address.port == 0 || $0.port == address.port) }
    }

    /// Whether a listener that failed to bind `address` with `error` should try the next of
    /// `remaining` instead of failing: only the IPv6 wildcard, where IPv6 is off, falls back to
    /// the IPv4 wildcard. A port already in use is no reason to listen on IPv4 alone: that
    /// error stands.
    public static func fallsBackToIPv4(from address: SocketAddress, after error: any Error, remaining: ArraySlice<SocketAddress>) -> Bool {
        guard address.isIPv6, address.isUnspecified, remaining.contains(where: { !$0.isIPv6 && $0.isUnspecified }) else { return false }
        return (error as? SystemError)?.errno != EADDRINUSE
    }

    /// How long ``resolveAsync(host:port:timeout:)`` waits for a lookup unless told: the
    /// longest glibc's resolver takes by default (5 s a try, 2 tries, 3 servers).
    public static let defaultLookupTimeout: Duration = .seconds(30)

    /// Resolves `host` off the caller's thread (getaddrinfo blocks) and returns every address,
    /// waiting at most `timeout` for the lookup. Lookups of one name share one `getaddrinfo`
    /// call at a time across the process (``HostLookups``): a resolver that does not answer holds
    /// one thread per name, not one per caller. Throws ``AddressResolutionError`` (its
    /// ``AddressResolutionError/kind`` `.timedOut` once `timeout` passes; the call goes on), or
    /// `CancellationError` when the caller's task is cancelled while it waits.
    public static func resolveAsync(host: String, port: UInt16, timeout: Duration = defaultLookupTimeout) async throws -> [SocketAddress] {
        try await resolveAsync(host: host, port: port, timeout: timeout, lookups: .system)
    }

    /// ``resolveAsync(host:port:timeout:)`` through `lookups`.
    static func resolveAsync(host: String, port: UInt16, timeout: Duration, lookups: HostLookups) async throws -> [SocketAddress] {
        if let every = everyInterface(host: host, port: port) { return every }
        if let numeric = SocketAddress(numericHost: host, port: port) { return [numeric] }
        return try await lookups.addresses(of: host, port: port, timeout: timeout)
    }
}

/// A host name that could not be resolved.
public struct AddressResolutionError: Error, Sendable, CustomStringConvertible {
    /// Why the name has no addresses.
    public enum Kind: Hashable, Sendable {
        /// The resolver answered with an error, or with no IPv4 or IPv6 address.
        case failed
        /// The resolver did not answer within the caller's timeout.
        case timedOut
    }

    public let host: String
    public let kind: Kind
    public let reason: String
    public var description: String { "cannot resolve host '\(host)': \(reason)" }

    public init(host: String, kind: Kind = .failed, reason: String) {
        self.host = host
        self.kind = kind
        self.reason = reason
    }
}
