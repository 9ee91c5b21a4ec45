import DiscoNet

// MARK: - Queries on the loop

/// Answers the queries of one server socket on its loop: takes the newest snapshot, asks the
/// core, counts the outcome.
final class DNSQueryResponder: MessageResponder, @unchecked Sendable {
    // @unchecked Sendable: `zone`, `generation` and `counters` are touched only by `respond`,
    // which the one server holding this responder calls on its loop thread, and by
    // `countersSnapshot`, which the server reaches through `loop.submit` on the same thread.
    private let holder: DNSZoneHolder
    private let answerer: DNSAnswerer
    private var zone: DNSZone
    private var generation: UInt64 = .max
    private var counters = DNSQueryCounters()

    init(holder: DNSZoneHolder, answerer: DNSAnswerer) {
        self.holder = holder
        self.answerer = answerer
        zone = holder.zone
    }

    func respond(to request: UnsafeRawBufferPointer, over transport: MessageTransport,
                 into response: UnsafeMutableRawBufferPointer) -> Int {
        if let (newer, generation) = holder.newer(than: generation) {
            zone = newer
            self.generation = generation
        }
        let answer = answerer.respond(to: request, over: transport == .datagram ? .udp : .tcp, zone: zone, into: response)
        counters.outcomes[answer.outcome.rawValue] += 1
        if answer.truncated { counters.truncated += 1 }
        return answer.length
    }

    var countersSnapshot: DNSQueryCounters { counters }
}

/// Queries counted by outcome, and truncated answers.
struct DNSQueryCounters: Sendable {
    var outcomes = [Int](repeating: 0, count: DNSReply.Outcome.allCases.count)
    var truncated = 0
}
