import DiscoCore
import Dispatch
// CResolv's header brings in the socket structs; importing it makes their members visible.
import CResolv
@preconcurrency import Glibc

// MARK: - NameserverClient

/// Sends queries straight to one configured server over UDP, falling back to TCP when an answer
/// is truncated (TC). Used when discovery config names a `nameserver` (`host:port`).
///
/// Each try uses a fresh socket (a new source port) and a new query ID; answers whose ID or
/// question do not match are ignored, as RFC 5452 advises. Blocking socket work runs on its own
/// dispatch queue, never on the cooperative thread pool.
public struct NameserverClient: DNSQuerying {
    /// The server as `host:port`.
    public let serverDescription: String
    private let address: SocketAddress
    private let options: DNSClientOptions

    /// - Parameter nameserver: `ip:port`, `[ipv6]:port` or a bare IP (port 53).
    public init(nameserver: String, options: DNSClientOptions = DNSClientOptions()) throws(DNSConfigurationError) {
        let host: String
        let port: UInt16
        do {
            let parsed = try PeerAddress(parsing: nameserver, defaultPort: 53)
            host = parsed.host
            port = parsed.port
        } catch {
            throw DNSConfigurationError(field: "nameserver", reason: error.reason)
        }
        guard let address = SocketAddress(ip: host, port: port) else {
            throw DNSConfigurationError(
                field: "nameserver",
                reason: "\(host.debugDescription) is not an IP address; give the server as ip:port, such as 127.0.0.1:53 or [::1]:5353")
        }
        self.address = address
        self.options = options
        self.serverDescription = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public func exchange(_ question: DNSQuestion) async throws(DNSLookupError) -> DNSMessage {
        let result: Result<DNSMessage, DNSLookupError> = await withCheckedContinuation { continuation in
            DispatchQueue(label: "disco.dns.query").async {
                continuation.resume(returning: Result { () throws(DNSLookupError) in try self.exchangeBlocking(question) })
            }
        }
        return try result.get()
    }

    // MARK: Blocking exchange

    private func failure(_ code: DNSLookupError.Code, _ question: DNSQuestion, _ detail: String) -> DNSLookupError {
        DNSLookupError(code, server: serverDescription, question: question.description, detail: detail)
    }

    func exchangeBlocking(_ question: DNSQuestion) throws(DNSLookupError) -> DNSMessage {
        for _ in 0..<max(1, options.tries) {
            let query = DNSMessage(header: DNSHeader(id: options.idGenerator(), flags: DNSHeader.queryFlags), questions: [question])
            if let answer = try udpTry(query) { return answer }
        }
        let tries = max(1, options.tries)
        throw failure(.timeout, question, "\(tries) \(tries == 1 ? "try" : "tries") over UDP, \(options.timeoutPerTry) each")
    }

    /// One UDP try; `nil` when it timed out.
    private func udpTry(_ query: DNSMessage) throws(DNSLookupError) -> DNSMessage? {
        let question = query.questions[0]
        let bytes: [UInt8]
        do {
            bytes = try query.encoded()
        } catch {
            throw failure(.malformedAnswer, question, "could not encode the query: \(error)")
        }
        let fd: Int32
        do {
            fd = try openSocket(family: address.family, type: Int32(SOCK_DGRAM.rawValue))
        } catch {
            throw failure(.systemFailure, question, error.description)
        }
        defer { close(fd) }
        let deadline = ContinuousClock.now + options.timeoutPerTry
        do {
            try connectSocket(fd, to: address, until: deadline)
            let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == bytes.count else { throw SocketWaitError.system(SystemCallError(call: "send", errno: errno)) }
            var buffer = [UInt8](repeating: 0, count: 65_535)
            while true {
                try waitFor(fd, events: Int16(POLLIN), until: deadline)
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                    throw SocketWaitError.system(SystemCallError(call: "recv", errno: errno))
                }
                let datagram = Array(buffer[0..<count])
                guard let header = try? DNSMessage.parseHeader(datagram), header.isResponse, header.id == query.header.id else {
                    continue  // not ours: keep waiting for the real answer
                }
                if header.isTruncated { return try tcpExchange(query) }
                let message: DNSMessage
                do {
                    message = try DNSMessage(parsing: datagram)
                } catch {
                    throw failure(.malformedAnswer, question, error.description)
                }
                guard message.isAnswer(to: question) else { continue }
                return message
            }
        } catch let error as SocketWaitError {
            switch error {
            case .timedOut: return nil
            case .system(let system) where system.isConnectionRefused:
                throw failure(.connectionRefused, question, "over UDP; nothing listens on that port")
            case .system(let system): throw failure(.systemFailure, question, system.description)
            case .closed: throw failure(.systemFailure, question, "UDP socket closed")
            }
        } catch let error as DNSLookupError {
            throw error
        } catch {
            throw failure(.systemFailure, question, "\(error)")
        }
    }

    /// The same query over TCP (RFC 1035 §4.2.2: two-byte length prefix), after a truncated answer.
    private func tcpExchange(_ query: DNSMessage) throws(DNSLookupError) -> DNSMessage {
        let question = query.questions[0]
        let deadline = ContinuousClock.now + options.timeoutPerTry
        do {
            let bytes = try query.encoded()
            let fd = try openSocket(family: address.family, type: Int32(SOCK_STREAM.rawValue))
            defer { close(fd) }
            try connectSocket(fd, to: address, until: deadline)
            try writeAll(fd, [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes, until: deadline)
            let prefix = try readExactly(fd, 2, until: deadline)
            let length = Int(prefix[0]) << 8 | Int(prefix[1])
            let body = length == 0 ? [] : try readExactly(fd, length, until: deadline)
            let message = try DNSMessage(parsing: body)
            guard message.header.id == query.header.id, message.isAnswer(to: question) else {
                throw failure(.malformedAnswer, question, "the TCP answer (ID \(message.header.id)) does not answer query ID \(query.header.id) for \(question)")
            }
            return message
        } catch let error as DNSMessageError {
            throw failure(.malformedAnswer, question, "over TCP: \(error)")
        } catch let error as SocketWaitError {
            switch error {
            case .timedOut:
                throw failure(.timeout, question, "the UDP answer was truncated and the TCP retry got no answer within \(options.timeoutPerTry)")
            case .system(let system) where system.isConnectionRefused:
                throw failure(.connectionRefused, question, "over TCP, after a truncated UDP answer")
            case .system(let system): throw failure(.systemFailure, question, "over TCP: \(system.description)")
            case .closed(let received, let expected):
                throw failure(.malformedAnswer, question, "over TCP: the server closed the connection after \(received) of \(expected) bytes")
            }
        } catch let error as SystemCallError {
            throw failure(.systemFailure, question, error.description)
        } catch let error as DNSLookupError {
            throw error
        } catch {
            throw failure(.systemFailure, question, "\(error)")
        }
    }
}
