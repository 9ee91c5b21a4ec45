@preconcurrency import Glibc
import DiscoNet
import Dispatch

// MARK: - An upstream that answers from a thread of its own

/// A TCP server on 127.0.0.1 (a port the system picks) that answers every connection, one at a
/// time, with the same bytes: it reads the request head, writes the whole answer as fast as the
/// peer takes it, and closes the connection.
///
/// It uses blocking sockets on a thread of its own: none of its work runs on the process's event
/// loops or on the cooperative pool. On a loaded machine, where those threads are shared with
/// hundreds of other tests, it is never late because they are busy; a peer waiting for its bytes
/// waits only for the kernel. For tests of timeouts that must not blame such a delay on the
/// upstream (an answer larger than the socket buffers keeps them full while the peer reads).
public final class BlockingTCPUpstream: Sendable {
    /// Where it listens.
    public let address: SocketAddress
    private let listener: Int32
    private let finished = DispatchSemaphore(value: 0)

    /// Starts listening; `answer` is written whole to every connection.
    public init(answer: [UInt8]) throws {
        let (fd, port) = try FreePort.bound(type: Int32(SOCK_STREAM.rawValue), port: 0)
        guard listen(fd, 16) == 0, let address = SocketAddress(numericHost: "127.0.0.1", port: port) else {
            let code = errno
            close(fd)
            throw FreePort.Failure(description: "listening on 127.0.0.1:\(port) failed: errno \(code)")
        }
        self.address = address
        listener = fd
        let finished = self.finished
        DispatchQueue(label: "disco.tests.blocking-upstream").async {
            while true {
                let connection = accept(fd, nil, nil)
                if connection < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    break
                }
                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                Self.serve(connection, answer: answer)
                close(connection)
            }
            finished.signal()
        }
    }

    /// Stops listening and waits for the thread to finish (a connection being answered ends
    /// first: its peer has gone, or the send timeout runs out).
    public func stop() async {
        let listener = self.listener
        let finished = self.finished
        shutdown(listener, Int32(SHUT_RDWR))
        await BlockingWork.run("disco.tests.blocking-upstream.stop") { finished.wait() }
        close(listener)
    }

    // MARK: One connection

    /// Reads up to the end of the request head, then writes `answer`. Every call is bounded by
    /// a 30 s socket timeout, so a peer that stops reading cannot hold the thread for good.
    private static func serve(_ fd: Int32, answer: [UInt8]) {
        var limit = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !endsHead(head) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            head += buffer[0..<count]
        }
        var offset = 0
        while offset < answer.count {
            let sent = answer.withUnsafeBytes { bytes -> Int in
                guard let base = bytes.baseAddress else { return -1 }
                return send(fd, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    /// Whether `bytes` hold a blank line (the end of a request head).
    private static func endsHead(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        return (0...(bytes.count - 4)).contains { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }
    }
}
