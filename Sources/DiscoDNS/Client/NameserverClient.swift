import DiscoCore
import DiscoNet

// MARK: - NameserverClient

/// Sends queries straight to one server over UDP, falling back to TCP when an answer is truncated
/// (TC). Used when discovery config names a `nameserver` (`host:port`), and for each server of
/// the system configuration (``LibresolvClient``).
///
/// Sockets are DiscoNet's, driven by its event loops. Each try uses a fresh connected UDP socket
/// (a new source port, and a closed port is reported as refused) and a new query ID; answers
/// whose ID or question do not match, or that cannot be read, are ignored until the try's
/// deadline, as RFC 5452 advises (a lookup that got only those reports the last one). Queries
/// carry EDNS(0) (``DNSClientOptions/ednsPayloadSize``); a server that answers FORMERR without
/// EDNS is asked again without it.
public struct NameserverClient: DNSQuerying {
    /// The server as `host:port`.
    public let serverDescription: String
    /// The server's address.
    public let address: SocketAddress
    private let options: DNSClientOptions
    /// The loops its sockets run on; nil: the shared group, started by the first exchange (its
    /// failure to start is that exchange's error).
    private let group: EventLoopGroup?

    /// - Parameter nameserver: `ip:port`, `[ipv6]:port` or a bare IP (port 53).
    public init(nameserver: String, options: DNSClientOptions = DNSClientOptions(), group: EventLoopGroup? = nil) throws(DNSConfigurationError) {
        let parsed: PeerAddress
        do {
            parsed = try PeerAddress(parsing: nameserver, defaultPort: 53)
        } catch {
            throw DNSConfigurationError(field: "nameserver", reason: error.reason)
        }
        guard let address = SocketAddress(numericHost: parsed.host, port: parsed.port) else {
            throw DNSConfigurationError(
                field: "nameserver",
                reason: "\(parsed.host.debugDescription) is not an IP address; give the server as ip:port, such as 127.0.0.1:53 or [::1]:5353")
        }
        self.init(address: address, options: options, group: group)
    }

    /// A client for the server at `address`.
    public init(address: SocketAddress, options: DNSClientOptions = DNSClientOptions(), group: EventLoopGroup? = nil) {
        self.address = address
        self.options = options
        self.group = group
        serverDescription = address.description
    }

    public func exchange(_ question: DNSQuestion) async throws(DNSLookupError) -> DNSMessage {
        let tries = max(1, options.tries)
        var edns = options.ednsPayloadSize.map { EDNS(udpPayloadSize: $0) }
        var attempt = 0
        var noise: String?
        while attempt < tries {
            var query = DNSMessage(header: DNSHeader(id: options.idGenerator(), flags: DNSHeader.queryFlags), questions: [question])
            query.edns = edns
            let answer: DNSMessage
            switch try await udpTry(query) {
            case .noAnswer(let dropped):
                noise = dropped ?? noise
                attempt += 1
                continue
            case .answer(let message):
                answer = message
            }
            if edns != nil, answer.header.responseCode == .formatError, answer.edns == nil {
                edns = nil  // a server without EDNS (RFC 6891 §7): ask again, plainly
                continue
            }
            return answer
        }
        let tried = "\(tries) \(tries == 1 ? "try" : "tries") over UDP, \(options.timeoutPerTry) each"
        if let noise { throw failure(.malformedAnswer, question, "\(noise), and no valid answer came in \(tried)") }
        throw failure(.timeout, question, tried)
    }

    // MARK: UDP

    private func failure(_ code: DNSLookupError.Code, _ question: DNSQuestion, _ detail: String) -> DNSLookupError {
        DNSLookupError(code, server: serverDescription, question: question.description, detail: detail)
    }

    private func encode(_ query: DNSMessage) throws(DNSLookupError) -> [UInt8] {
        do {
            return try query.encoded()
        } catch {
            throw failure(.malformedAnswer, query.questions[0], "could not encode the query: \(error)")
        }
    }

    /// What one UDP try came to.
    private enum UDPOutcome {
        /// A response that answers the query (over TCP when the UDP one was truncated).
        case answer(DNSMessage)
        /// No valid answer by the try's deadline; `noise` says what was wrong with the last
        /// datagram that carried the query's ID but was dropped.
        case noAnswer(noise: String?)
    }

    /// One UDP try, until its deadline.
    ///
    /// A datagram with the query's ID that cannot be read, or that answers another question, is
    /// dropped as spoofed or corrupted (RFC 5452 §9, as glibc and unbound do) and the real answer
    /// is waited for; the connected socket already drops datagrams from any other address or port.
    private func udpTry(_ query: DNSMessage) async throws(DNSLookupError) -> UDPOutcome {
        let question = query.questions[0]
        let bytes = try encode(query)
        let deadline = ContinuousClock.now + options.timeoutPerTry
        do {
            let socket = try await UDPSocket.connected(to: address, group: group)
            defer { socket.close() }
            try await socket.send(bytes, to: address)
            var noise: String?
            while true {
                guard let datagram = try await socket.receive(timeout: max(.zero, deadline - ContinuousClock.now)) else {
                    return .noAnswer(noise: noise)
                }
                guard let header = try? DNSMessage.parseHeader(datagram.bytes), header.isResponse, header.id == query.header.id else {
                    continue  // not ours: keep waiting for the real answer
                }
                if header.isTruncated { return .answer(try await tcpExchange(query)) }
                let message: DNSMessage
                do {
                    message = try DNSMessage(parsing: datagram.bytes)
                } catch {
                    noise = "a reply with the query's ID could not be read (\(error.description)) and was dropped"
                    continue
                }
                guard message.isAnswer(to: question) else {
                    let asked = message.questions.isEmpty ? "no question" : message.questions.map(\.description).joined(separator: ", ")
                    noise = "a reply with the query's ID answered \(asked) instead of \(question) and was dropped"
                    continue
                }
                return .answer(message)
            }
        } catch let error as DNSLookupError {
            throw error
        } catch let error as NetworkError where error.code == .connectRefused {
            throw failure(.connectionRefused, question, "over UDP; nothing listens on that port")
        } catch {
            throw failure(.systemFailure, question, "over UDP: \(error)")
        }
    }

    // MARK: TCP

    /// The same query over TCP (RFC 1035 §4.2.2: two-byte length prefix), after a truncated answer.
    private func tcpExchange(_ query: DNSMessage) async throws(DNSLookupError) -> DNSMessage {
        let question = query.questions[0]
        let bytes = try encode(query)
        let deadline = ContinuousClock.now + options.timeoutPerTry
        var received: [UInt8] = []
        do {
            let connection = try await TCPConnection.connect(to: address, timeout: options.timeoutPerTry, group: group)
            defer { connection.close() }
            try await withDeadline(deadline) { try await connection.write([UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes) }
            while received.count < 2 || received.count < 2 + (Int(received[0]) << 8 | Int(received[1])) {
                guard let chunk = try await withDeadline(deadline, { try await connection.read() }) else {
                    let expected = received.count < 2 ? 2 : 2 + (Int(received[0]) << 8 | Int(received[1]))
                    throw failure(.malformedAnswer, question, "over TCP: the server closed the connection after \(received.count) of \(expected) bytes")
                }
                received += chunk
            }
        } catch is DeadlinePassed {
            throw failure(.timeout, question, "the UDP answer was truncated and the TCP retry got no answer within \(options.timeoutPerTry)")
        } catch let error as DNSLookupError {
            throw error
        } catch let error as NetworkError {
            switch error.code {
            case .connectRefused: throw failure(.connectionRefused, question, "over TCP, after a truncated UDP answer")
            case .connectTimeout:
                throw failure(.timeout, question, "the UDP answer was truncated and the TCP connection was not accepted within \(options.timeoutPerTry)")
            default: throw failure(.systemFailure, question, "over TCP: \(error)")
            }
        } catch {
            throw failure(.systemFailure, question, "over TCP: \(error)")
        }
        let length = Int(received[0]) << 8 | Int(received[1])
        let message: DNSMessage
        do {
            message = try DNSMessage(parsing: Array(received[2..<(2 + length)]))
        } catch {
            throw failure(.malformedAnswer, question, "over TCP: \(error)")
        }
        guard message.header.id == query.header.id, message.isAnswer(to: question) else {
            throw failure(.malformedAnswer, question, "the TCP answer (ID \(message.header.id)) does not answer query ID \(query.header.id) for \(question)")
        }
        return message
    }
}
