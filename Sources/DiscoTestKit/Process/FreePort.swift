@preconcurrency import Glibc

// MARK: - Free loopback ports

/// Finds a port on 127.0.0.1 that is free for both TCP and UDP right now.
///
/// The port is released before it is returned, so another process could take it before the
/// child binds it (a small race). Fixtures handle that by retrying with a new port when the
/// child fails to bind.
public enum FreePort {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A port free for TCP and UDP on 127.0.0.1.
    public static func loopback() throws -> UInt16 {
        for _ in 0..<50 {
            let tcp = try bound(type: Int32(SOCK_STREAM.rawValue), port: 0)
            defer { close(tcp.fd) }
            guard let udp = try? bound(type: Int32(SOCK_DGRAM.rawValue), port: tcp.port) else { continue }
            close(udp.fd)
            return tcp.port
        }
        throw Failure(description: "no port free for both TCP and UDP on 127.0.0.1 after 50 tries")
    }

    fileprivate static func bound(type: Int32, port: UInt16) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw Failure(description: "bind to 127.0.0.1:\(port) failed: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}

// MARK: - A port that refuses connections

extension FreePort {
    /// A TCP port on 127.0.0.1 that is bound but never listens, held for the object's lifetime:
    /// connections to it are refused at once, and no other process can take it meanwhile (a
    /// port that is merely free could be taken by a server before the test connects).
    public final class Refusing: Sendable {
        public let port: UInt16
        private let fd: Int32

        public init() throws {
            (fd, port) = try FreePort.bound(type: Int32(SOCK_STREAM.rawValue), port: 0)
        }

        deinit { close(fd) }
    }
}
