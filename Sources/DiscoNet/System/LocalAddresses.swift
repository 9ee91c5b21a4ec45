#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import CDiscoEpoll

// MARK: - This machine's addresses

extension SocketAddress {
    /// The IPv4 and IPv6 addresses of this machine's interfaces (`getifaddrs`), port 0; empty
    /// when they cannot be read.
    public static func interfaceAddresses() -> [SocketAddress] {
        var first: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&first) == 0, let first else { return [] }
        defer { freeifaddrs(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            cursor = entry.pointee.ifa_next
            guard let sa = entry.pointee.ifa_addr else { continue }
            let family = Int32(sa.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            var storage = sockaddr_storage()
            let length = family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: length))
            }
            if let address = SocketAddress(storage: storage), !addresses.contains(address) { addresses.append(address) }
        }
        return addresses
    }

    /// The address as IPv4 when it is IPv4 in IPv6 form (`::ffff:127.0.0.1`): a connection to
    /// it goes to the IPv4 address.
    public var unmapped: SocketAddress {
        isIPv4Mapped ? SocketAddress(bytes: Array(addressBytes[12...]), port: port, scopeID: 0) : self
    }

    /// True for a loopback address: `127.0.0.0/8` or `::1` (or `::ffff:127.x.y.z`).
    public var isLoopback: Bool {
        let address = unmapped
        if !address.isIPv6 { return address.addressBytes[0] == 127 }
        return address.addressBytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// Whether a connection to this address would reach a socket listening on `listener` (the
    /// same port) on this machine, whose interface addresses are `local`: the same address; a
    /// listener on `[::]` (bound dual-stack) takes any address of this machine, IPv4 or IPv6,
    /// one on `0.0.0.0` any IPv4 one; and a connection to `0.0.0.0` or `::` goes to the
    /// loopback address of its family (as Linux routes it).
    public func reaches(listener: SocketAddress, local: [SocketAddress]) -> Bool {
        let target = unmapped
        let bound = listener.unmapped
        guard target.port == bound.port else { return false }
        if target.addressBytes == bound.addressBytes { return true }
        if bound.isUnspecified {
            guard bound.isIPv6 || !target.isIPv6 else { return false }
            return target.isUnspecified || target.isLoopback || local.contains { $0.unmapped.addressBytes == target.addressBytes }
        }
        if target.isUnspecified { return bound.isLoopback && bound.isIPv6 == target.isIPv6 && (target.isIPv6 || bound.addressBytes == [127, 0, 0, 1]) }
        return false
    }
}
