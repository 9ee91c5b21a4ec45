// MARK: - DNSQuerying

/// Something that can send one question to a DNS server and return the server's response.
///
/// Implementations: ``NameserverClient`` (our own UDP/TCP client for a configured server) and
/// ``LibresolvClient`` (the same client for the servers of the system's resolver configuration).
/// Both hand back a parsed ``DNSMessage`` that answers exactly the question asked; RCODEs are
/// left for ``DNSResolver`` to interpret.
public protocol DNSQuerying: Sendable {
    /// The server as named in errors, such as `127.0.0.1:5353`.
    var serverDescription: String { get }

    /// Sends `question` and returns the matching response.
    func exchange(_ question: DNSQuestion) async throws(DNSLookupError) -> DNSMessage
}

// MARK: - Options

/// Timeouts, retries and the query ID source of a DNS client.
public struct DNSClientOptions: Sendable {
    /// How long to wait for an answer to one try.
    public var timeoutPerTry: Duration = .seconds(2)
    /// How many tries before giving up with a timeout error (at least 1).
    public var tries: Int = 3
    /// Source of query IDs; random by default. Tests inject a fixed sequence.
    public var idGenerator: @Sendable () -> UInt16 = { UInt16.random(in: .min ... .max) }
    /// Keep answers for their TTL (``DNSCache``) when a provider builds its own client.
    /// Off by default: every discovery round then sees the current records.
    public var cacheByTTL = false
    /// The UDP payload size advertised with EDNS(0), so answers up to this size come over UDP;
    /// nil sends plain queries (answers over 512 bytes then come over TCP).
    public var ednsPayloadSize: UInt16? = EDNS.defaultPayloadSize

    public init() {}

    public init(timeoutPerTry: Duration, tries: Int) {
        self.timeoutPerTry = timeoutPerTry
        self.tries = max(1, tries)
    }
}

// MARK: - Response checks

extension DNSMessage {
    /// Whether this message is a response to `question` (the ID is checked by the transport).
    /// A server may drop the question section when it answers with an error RCODE.
    func isAnswer(to question: DNSQuestion) -> Bool {
        guard header.isResponse else { return false }
        if questions.isEmpty { return header.responseCode != .noError }
        return questions.count == 1 && questions[0] == question
    }
}
