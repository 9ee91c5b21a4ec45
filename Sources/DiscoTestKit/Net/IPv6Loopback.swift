@preconcurrency import Glibc

// MARK: - The IPv6 loopback address

/// Whether this machine can bind the IPv6 loopback address `::1`: containers and CI runners
/// started with IPv6 disabled cannot, and tests that need it are skipped there
/// (`.enabled(if: IPv6Loopback.isAvailable)`).
public enum IPv6Loopback {
    /// A socket bound to `[::1]:port` without `SO_REUSEADDR`, so no other socket can bind that
    /// port on `::1` (a UDP socket with `SO_REUSEADDR` could share it) until ``close()``.
    public struct HeldPort: Sendable {
        /// The port the kernel chose.
        public let port: UInt16
        let fd: Int32

        /// Releases the port.
        public func close() { _ = Glibc.close(fd) }
    }

    /// True when a TCP and a UDP socket can both be bound to `[::1]:0` right now.
    public static var isAvailable: Bool {
        guard let tcp = hold(type: Int32(SOCK_STREAM.rawValue)) else { return false }
        tcp.close()
        guard let udp = hold(type: Int32(SOCK_DGRAM.rawValue)) else { return false }
        udp.close()
        return true
    }

    /// Binds a UDP socket to `[::1]:0` and holds it; nil when `::1` cannot be bound.
    public static func holdUDPPort() -> HeldPort? { hold(type: Int32(SOCK_DGRAM.rawValue)) }

    private static func hold(type: Int32) -> HeldPort? {
        let fd = socket(AF_INET6, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = 0
        address.sin6_addr = in6addr_loopback
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            _ = Glibc.close(fd)
            return nil
        }
        return HeldPort(port: UInt16(bigEndian: address.sin6_port), fd: fd)
    }
}
