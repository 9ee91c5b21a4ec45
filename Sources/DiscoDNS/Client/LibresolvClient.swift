import CResolv
import Dispatch
@preconcurrency import Glibc

// MARK: - LibresolvClient

/// Asks the system's stub resolver (glibc libresolv, `res_nquery`) and parses the answer bytes
/// with Disco's own codec. Used for SRV when no `nameserver` is configured: it honours
/// `/etc/resolv.conf`, `RES_OPTIONS` and `LOCALDOMAIN` like every other program on the host.
///
/// The name is queried as given (no search list): give fully qualified names.
public struct LibresolvClient: DNSQuerying {
    /// An IPv4 server that replaces resolv.conf's list (glibc's documented override); tests use
    /// it to aim the system resolver at a local dnsmasq.
    public struct Override: Sendable, Hashable {
        public var ipv4: String
        public var port: UInt16
        public init(ipv4: String, port: UInt16) {
            self.ipv4 = ipv4
            self.port = port
        }
    }

    private let override: Override?
    private let timeoutSeconds: Int32
    private let tries: Int32

    public var serverDescription: String {
        override.map { "system resolver (libresolv) at \($0.ipv4):\($0.port)" } ?? "system resolver (libresolv)"
    }

    /// - Parameters:
    ///   - timeoutPerTry: rounded up to whole seconds (libresolv's unit); 0 keeps resolv.conf's.
    ///   - tries: attempts per server; 0 keeps resolv.conf's.
    public init(timeoutPerTry: Duration = .zero, tries: Int = 0, override: Override? = nil) {
        let seconds = timeoutPerTry.components.seconds + (timeoutPerTry.components.attoseconds > 0 ? 1 : 0)
        self.timeoutSeconds = Int32(clamping: seconds)
        self.tries = Int32(clamping: tries)
        self.override = override
    }

    public func exchange(_ question: DNSQuestion) async throws(DNSLookupError) -> DNSMessage {
        let result: Result<DNSMessage, DNSLookupError> = await withCheckedContinuation { continuation in
            DispatchQueue(label: "disco.dns.libresolv").async {
                continuation.resume(returning: Result { () throws(DNSLookupError) in try self.queryBlocking(question) })
            }
        }
        return try result.get()
    }

    // MARK: Blocking query

    private func queryBlocking(_ question: DNSQuestion) throws(DNSLookupError) -> DNSMessage {
        func failure(_ code: DNSLookupError.Code, _ detail: String) -> DNSLookupError {
            DNSLookupError(code, server: serverDescription, question: question.description, detail: detail)
        }
        // Names with dots or backslashes inside labels cannot be passed as text safely.
        guard question.name.labels.allSatisfy({ !$0.contains(UInt8(ascii: ".")) && !$0.contains(UInt8(ascii: "\\")) }) else {
            throw failure(.systemFailure, "the name has a label containing '.' or '\\', which the system resolver cannot take as text")
        }
        let name = question.name.isRoot ? "." : question.name.description + "."
        var answer = [UInt8](repeating: 0, count: 65_535)
        var outcome = disco_res_outcome()
        let length: Int32 = answer.withUnsafeMutableBufferPointer { buffer in
            if let override {
                return disco_res_query(name, Int32(question.type.rawValue), buffer.baseAddress, Int32(buffer.count),
                                       timeoutSeconds, tries, override.ipv4, override.port, &outcome)
            }
            return disco_res_query(name, Int32(question.type.rawValue), buffer.baseAddress, Int32(buffer.count),
                                   timeoutSeconds, tries, nil, 0, &outcome)
        }
        if length >= 0 {
            let bytes = Array(answer[0..<Int(min(length, Int32(answer.count)))])
            let message: DNSMessage
            do {
                message = try DNSMessage(parsing: bytes)
            } catch {
                throw failure(.malformedAnswer, error.description)
            }
            guard message.isAnswer(to: question) else {
                throw failure(.malformedAnswer, "the answer is for \(message.questions.map(\.description)), not \(question)")
            }
            return message
        }
        if outcome.init_failed != 0 {
            throw failure(.systemFailure, "res_ninit failed: \(String(cString: strerror(outcome.system_error)))")
        }
        // A response was received (QR set in the zeroed buffer): report its RCODE exactly.
        // A NOERROR response here had no answers (NODATA); DNSResolver interprets both cases.
        if let header = try? DNSMessage.parseHeader(answer), header.isResponse {
            return DNSMessage(header: header, questions: [question])
        }
        switch outcome.h_error {
        case HOST_NOT_FOUND: throw failure(.nameDoesNotExist, "")
        case NO_DATA: throw failure(.noRecords, "")
        case TRY_AGAIN where outcome.system_error == ECONNREFUSED:
            throw failure(.connectionRefused, "every configured server refused the connection")
        case TRY_AGAIN:
            throw failure(.timeout, "no server answered (h_errno TRY_AGAIN, \(String(cString: strerror(outcome.system_error))))")
        default:
            throw failure(.systemFailure, "res_nquery failed with h_errno \(outcome.h_error), errno \(outcome.system_error)")
        }
    }
}
