// MARK: - DNSAnswer

/// The records of one type that answer a name, after following CNAMEs.
public struct DNSAnswer: Sendable, Hashable {
    /// The name asked for.
    public var name: DNSName
    /// The name the records belong to (differs from `name` when CNAMEs were followed).
    public var canonicalName: DNSName
    /// The answer records of the requested type for `canonicalName`.
    public var records: [DNSResourceRecord]
    /// The additional section of the final response (glue for SRV targets), without the EDNS
    /// OPT pseudo-record.
    public var additional: [DNSResourceRecord]
}

// MARK: - DNSResolver

/// Interprets responses from a ``DNSQuerying`` server: RCODEs become typed errors, CNAME chains
/// are followed (within the answer and, when the chain leaves it, by asking again), and A and
/// AAAA lookups run in parallel.
public struct DNSResolver: HostAddressResolving {
    /// Longest CNAME chain followed before giving up.
    public static let maxCNAMEHops = 8

    public let querier: any DNSQuerying
    public var serverDescription: String { querier.serverDescription }

    public init(querier: any DNSQuerying) {
        self.querier = querier
    }

    /// Records of `type` for `name`; throws `nameDoesNotExist`, `noRecords` or the server's error.
    public func lookup(_ name: DNSName, type: DNSRecordType) async throws(DNSLookupError) -> DNSAnswer {
        var current = name
        var visited: Set<DNSName> = [name]
        for _ in 0...Self.maxCNAMEHops {
            let question = DNSQuestion(name: current, type: type)
            let message = try await querier.exchange(question)
            func failure(_ code: DNSLookupError.Code, _ detail: String = "") -> DNSLookupError {
                let chain = current == name ? "" : " (reached through CNAME from \(name))"
                return DNSLookupError(code, server: querier.serverDescription, question: question.description, detail: detail + chain)
            }
            switch message.header.responseCode {
            case .noError: break
            case .nameError: throw failure(.nameDoesNotExist)
            case .serverFailure: throw failure(.serverFailure)
            case .refused: throw failure(.queryRefused)
            default: throw failure(.errorResponse, "RCODE \(message.header.responseCode)")
            }
            // Follow the chain inside this answer.
            while true {
                let matching = message.answers.filter { $0.name == current && $0.type == type }
                if !matching.isEmpty {
                    return DNSAnswer(name: name, canonicalName: current, records: matching,
                                     additional: message.additional.filter { $0.type != .opt })
                }
                guard let alias = message.answers.first(where: { $0.name == current && $0.type == .cname }),
                    case .cname(let target) = alias.data
                else { break }
                guard visited.insert(target).inserted, visited.count <= Self.maxCNAMEHops + 1 else {
                    throw failure(.cnameLoop, "CNAME \(current) -> \(target) revisits a name or exceeds \(Self.maxCNAMEHops) hops")
                }
                current = target
            }
            // The chain ended at a name this answer has nothing more for.
            if current == question.name { throw failure(.noRecords) }
        }
        throw DNSLookupError(.cnameLoop, server: querier.serverDescription, question: "\(type) \(name)", detail: "more than \(Self.maxCNAMEHops) CNAME hops")
    }

    /// A and AAAA addresses of `name`, queried in parallel, sorted and de-duplicated.
    ///
    /// One family missing (`noRecords`, or NXDOMAIN beside records of the other) is fine; a
    /// server failure on either side fails the lookup rather than return half the peers.
    public func addresses(of name: DNSName) async throws(DNSLookupError) -> [DNSIPAddress] {
        async let v4 = lookupResult(name, type: .a)
        async let v6 = lookupResult(name, type: .aaaa)
        let results = await [v4, v6]
        var found = Set<DNSIPAddress>()
        var absent: [DNSLookupError] = []
        for result in results {
            switch result {
            case .success(let answer):
                for record in answer.records {
                    if case .address(let address) = record.data { found.insert(address) }
                }
            case .failure(let error) where error.code == DNSLookupError.Code.noRecords || error.code == DNSLookupError.Code.nameDoesNotExist:
                absent.append(error)
            case .failure(let error):
                throw error
            }
        }
        if found.isEmpty {
            if let missing = absent.first(where: { $0.code == .nameDoesNotExist }) { throw missing }
            throw DNSLookupError(.noRecords, server: querier.serverDescription, question: "A/AAAA \(name)", detail: "neither A nor AAAA records")
        }
        return found.sorted()
    }

    private func lookupResult(_ name: DNSName, type: DNSRecordType) async -> Result<DNSAnswer, DNSLookupError> {
        do {
            return .success(try await lookup(name, type: type))
        } catch {
            return .failure(error)
        }
    }
}
