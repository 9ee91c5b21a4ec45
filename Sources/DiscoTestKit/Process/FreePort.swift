@preconcurrency import Glibc
import Foundation
import Synchronization

// MARK: - Free loopback ports

/// Finds a port on 127.0.0.1 that is free for both TCP and UDP right now.
///
/// Ports come from below the kernel's ephemeral range (`ip_local_port_range`), so the source
/// port of an outgoing connection, which the kernel takes from that range at any moment, can
/// never take a port between the moment it is chosen and the moment a child binds it (that
/// race made process tests fail under load). Within one test process no port is handed out
/// twice. Each process starts at its own offset, so two test runs at once rarely meet, and a
/// port that is busy right now is skipped.
public enum FreePort {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A port free for TCP and UDP on 127.0.0.1, never returned before by this process.
    public static func loopback() throws -> UInt16 {
        let range = candidateRange
        let span = Int(range.upperBound - range.lowerBound) + 1
        for _ in 0..<min(span, 2000) {
            let port = allocator.withLock { next -> UInt16 in
                defer { next += 1 }
                return range.lowerBound + UInt16(next % span)
            }
            guard let tcp = try? bound(type: Int32(SOCK_STREAM.rawValue), port: port) else { continue }
            defer { close(tcp.fd) }
            guard let udp = try? bound(type: Int32(SOCK_DGRAM.rawValue), port: port) else { continue }
            close(udp.fd)
            return port
        }
        throw Failure(description: "no port in \(range.lowerBound)...\(range.upperBound) free for both TCP and UDP on 127.0.0.1")
    }

    /// Whether `port` on 127.0.0.1 can be bound now for both TCP and UDP (a server that held it
    /// has let it go).
    public static func isFree(_ port: UInt16) -> Bool {
        guard let tcp = try? bound(type: Int32(SOCK_STREAM.rawValue), port: port) else { return false }
        defer { close(tcp.fd) }
        guard let udp = try? bound(type: Int32(SOCK_DGRAM.rawValue), port: port) else { return false }
        close(udp.fd)
        return true
    }

    /// Ports below the ephemeral range: 20000 up to the range's start (32767 by default).
    static let candidateRange: ClosedRange<UInt16> = {
        let ephemeralStart = ephemeralRangeStart() ?? 32768
        let upper = UInt16(clamping: max(ephemeralStart - 1, 11000))
        let lower = UInt16(clamping: min(20000, Int(upper) - 1000))
        return lower...upper
    }()

    /// How many candidates this process has tried, counting on from a per-process offset.
    private static let allocator = Mutex<Int>(Int(getpid()) &* 7919 % 100_000)

    private static func ephemeralRangeStart() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8) else { return nil }
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) }
    }

    static func bound(type: Int32, port: UInt16) throws -> (fd: Int32, port: UInt16) {
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
