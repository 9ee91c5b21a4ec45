import CDiscoEpoll
import Dispatch
@testable import DiscoDNS
import DiscoTestKit
@preconcurrency import Glibc
import Synchronization

/// A UDP (and optionally TCP) server on 127.0.0.1 that answers each query with whatever the
/// test's script returns: wrong IDs, error RCODEs, malformed bytes, truncated answers.
final class ScriptedDNSServer: Sendable {
    /// Given a query, the datagrams to send back (in order).
    typealias Script = @Sendable (DNSMessage) -> [[UInt8]]

    let port: UInt16
    var nameserver: String { "127.0.0.1:\(port)" }
    private let udp: Int32
    private let tcp: Int32
    /// Sockets on 127.0.0.1 at another port and on 127.0.0.2 at the server's port: the sources a
    /// reply must not be taken from.
    private let strangers: [Int32]
    private let running = Atomic<Bool>(true)
    private let finished = DispatchGroup()
    /// Queries seen, over UDP and TCP.
    let queries = Mutex<[(transport: String, message: DNSMessage)]>([])

    /// - Parameters:
    ///   - tcpScript: answers over TCP (nil: no TCP listener, so TCP is refused).
    ///   - strangerScript: datagrams sent to the asker, before the server's own, from each of
    ///     two other sources: 127.0.0.1 at another port, 127.0.0.2 at the server's port.
    init(udp udpScript: @escaping Script, tcp tcpScript: Script? = nil, strangers strangerScript: Script? = nil) throws {
        (udp, tcp, port) = try Self.bindPair(tcp: tcpScript != nil)
        if tcp >= 0 { listen(tcp, 8) }
        var strangers: [Int32] = []
        if strangerScript != nil {
            for (host, strangerPort) in [(UInt32(0x7F00_0001), UInt16(0)), (0x7F00_0002, port)] {
                let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                strangers.append(fd)
                do {
                    _ = try Self.bindLoopback(fd, port: strangerPort, host: host)
                } catch {
                    for fd in strangers { close(fd) }
                    close(udp)
                    if tcp >= 0 { close(tcp) }
                    throw error
                }
            }
        }
        self.strangers = strangers
        finished.enter()
        DispatchQueue(label: "scripted-dns-udp").async { [self] in
            defer { finished.leave() }
            serveUDP(udpScript, strangers: strangerScript)
        }
        if let tcpScript {
            finished.enter()
            DispatchQueue(label: "scripted-dns-tcp").async { [self] in
                defer { finished.leave() }
                serveTCP(tcpScript)
            }
        }
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        finished.wait()
        close(udp)
        if tcp >= 0 { close(tcp) }
        for fd in strangers { close(fd) }
    }

    /// A UDP socket, and a TCP one when asked, bound to the same free loopback port. The port is
    /// only free when chosen: another listener can take it before the sockets here bind it, so a
    /// port either socket cannot bind is given up for the next one.
    private static func bindPair(tcp wantsTCP: Bool) throws -> (udp: Int32, tcp: Int32, port: UInt16) {
        var lastError: any Error = ScriptedServerError(description: "no free port for UDP and TCP")
        for _ in 0..<20 {
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            do {
                let port = try bindLoopback(udp, port: try FreePort.loopback())
                guard wantsTCP else { return (udp, -1, port) }
                let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                var one: Int32 = 1
                setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                do {
                    _ = try bindLoopback(tcp, port: port)
                    return (udp, tcp, port)
                } catch {
                    close(tcp)
                    throw error
                }
            } catch {
                close(udp)
                lastError = error
            }
        }
        throw lastError
    }

    private static func bindLoopback(_ fd: Int32, port: UInt16, host: UInt32 = 0x7F00_0001) throws -> UInt16 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = host.bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw ScriptedServerError(description: "bind failed: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }

    private func readable(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 20) > 0
    }

    private func serveUDP(_ script: Script, strangers strangerScript: Script?) {
        var buffer = [UInt8](repeating: 0, count: 65_535)
        while running.load(ordering: .relaxed) {
            guard readable(udp) else { continue }
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(udp, &buffer, buffer.count, 0, $0, &peerLength) }
            }
            guard count > 0, let query = try? DNSMessage(parsing: Array(buffer[0..<count])) else { continue }
            queries.withLock { $0.append(("udp", query)) }
            let replies = (strangerScript?(query) ?? []).flatMap { reply in strangers.map { ($0, reply) } } + script(query).map { (udp, $0) }
            for (fd, reply) in replies {
                _ = withUnsafePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, reply, reply.count, 0, $0, peerLength) }
                }
            }
        }
    }

    private func serveTCP(_ script: Script) {
        while running.load(ordering: .relaxed) {
            guard readable(tcp) else { continue }
            let connection = accept(tcp, nil, nil)
            guard connection >= 0 else { continue }
            defer { close(connection) }
            var prefix = [UInt8](repeating: 0, count: 2)
            guard recv(connection, &prefix, 2, Int32(MSG_WAITALL)) == 2 else { continue }
            var body = [UInt8](repeating: 0, count: Int(prefix[0]) << 8 | Int(prefix[1]))
            guard recv(connection, &body, body.count, Int32(MSG_WAITALL)) == body.count,
                let query = try? DNSMessage(parsing: body)
            else { continue }
            queries.withLock { $0.append(("tcp", query)) }
            for reply in script(query) {
                let framed = [UInt8(reply.count >> 8), UInt8(reply.count & 0xFF)] + reply
                _ = send(connection, framed, framed.count, Int32(MSG_NOSIGNAL))
            }
        }
    }
}

struct ScriptedServerError: Error, CustomStringConvertible {
    let description: String
}

/// A reply to `query` with the given RCODE, flags and answers, encoded.
func reply(to query: DNSMessage, rcode: UInt8 = 0, truncated: Bool = false, id: UInt16? = nil, answers: [DNSResourceRecord] = []) -> [UInt8] {
    let flags: UInt16 = 0x8180 | UInt16(rcode) | (truncated ? 0x0200 : 0)
    let message = DNSMessage(header: DNSHeader(id: id ?? query.header.id, flags: flags), questions: query.questions, answers: answers)
    return (try? message.encoded()) ?? []
}
