import DiscoCore
import RateLimitCore

// MARK: - RateLimitScenario

/// A rate-limit configuration and a timed request trace, run through a real system (nginx, the
/// sidecar) and through ``RateLimiter`` to compare their decisions request by request.
///
/// Clients are 127.0.0.x addresses (the `addr` key); header keys come from each request's
/// headers. Traces are designed so that no decision hinges on a few milliseconds:
/// ``robustnessProblems(jitter:samples:seed:)`` replays the trace with every request moved by up
/// to ``jitter`` ms and reports any decision that changes.
public struct RateLimitScenario: Sendable, CustomStringConvertible {
    public struct Request: Sendable {
        /// Milliseconds after the trace starts.
        public var offset: Int64
        /// The client's address is 127.0.0.`client`.
        public var client: UInt8
        /// Header fields, names in lower case.
        public var headers: [String: String]

        public init(offset: Int64, client: UInt8, headers: [String: String] = [:]) {
            self.offset = offset
            self.client = client
            self.headers = headers
        }
    }

    public var name: String
    public var zones: [LimitReqZone]
    public var policy: LimitReqPolicy
    public var requests: [Request]
    /// The timing error, in ms, the trace is designed to tolerate (each request up to this late,
    /// or 5 ms early): runs whose requests were sent or seen later than this are inconclusive.
    public var jitter: Int64

    /// The budget of most traces: a request seen 40 ms late decides the same.
    public static let defaultJitter: Int64 = 40

    public init(name: String, zones: [LimitReqZone], policy: LimitReqPolicy, requests: [Request] = [], jitter: Int64 = defaultJitter) {
        self.name = name
        self.zones = zones
        self.policy = policy
        self.requests = requests
        self.jitter = jitter
    }

    /// Adds `count` requests at `offset` ms from one client.
    public mutating func send(_ count: Int = 1, at offset: Int64, client: UInt8, headers: [String: String] = [:]) {
        for _ in 0..<count { requests.append(Request(offset: offset, client: client, headers: headers)) }
    }

    public var description: String { name }

    // MARK: Keys and decisions

    /// The request's key for each limit of the policy, as a proxy would extract them.
    public func keys(for request: Request) -> [RateLimitKey] {
        policy.limits.map { limit in
            switch zones[limit.zone].key {
            case .address: RateLimitKey.ipv4(127, 0, 0, request.client)
            case .appID: RateLimitKey(request.headers["app_id"] ?? "")
            case .header(let name): RateLimitKey(request.headers[name] ?? "")
            }
        }
    }

    /// The core's decisions for the trace with request `i` arriving at `times[i]` ms.
    public func decisions(at times: [Int64]) -> [RateLimitDecision] {
        var limiter = RateLimiter(zones: zones)
        return zip(requests, times).map { limiter.decide(policy, keys: keys(for: $0.0), now: $0.1) }
    }

    /// The decisions at the nominal times (a large clock origin, like nginx's uptime).
    public var nominalDecisions: [RateLimitDecision] { decisions(at: requests.map { Self.origin + $0.offset }) }

    static let origin: Int64 = 10_000_000

    // MARK: Robustness

    /// Replays the trace `samples` times with each request arriving between 5 ms early and
    /// `jitter` ms late (keeping their order), plus a few structured shifts, and lists every
    /// request whose outcome changes or whose delay moves by more than `jitter + 5` ms.
    public func robustnessProblems(jitter: Int64? = nil, samples: Int = 300, seed: UInt64 = 1) -> [String] {
        let jitter = jitter ?? self.jitter
        let nominal = nominalDecisions
        var random = DeterministicRandom(seed: seed)
        var shifts: [[Int64]] = [
            requests.indices.map { $0 % 2 == 0 ? 0 : jitter },
            requests.indices.map { $0 % 2 == 0 ? jitter : -5 },
            requests.indices.map { $0 < requests.count / 2 ? -5 : jitter },
            requests.indices.map { $0 < requests.count / 2 ? jitter : -5 },
        ]
        for _ in 0..<samples {
            shifts.append(requests.indices.map { _ in Int64(random.next() % UInt64(jitter + 6)) - 5 })
        }
        var problems: [String] = []
        for shift in shifts {
            var times: [Int64] = []
            for (index, request) in requests.enumerated() {
                times.append(max(times.last ?? Int64.min, Self.origin + request.offset + shift[index]))
            }
            for (index, (expected, actual)) in zip(nominal, decisions(at: times)).enumerated() {
                if let problem = Self.difference(expected, actual, tolerance: jitter + 5) {
                    problems.append("request \(index) at \(requests[index].offset) ms: \(problem) when shifted by \(shift[index]) ms")
                }
            }
            if !problems.isEmpty { break }
        }
        return problems
    }

    static func difference(_ expected: RateLimitDecision, _ actual: RateLimitDecision, tolerance: Int64) -> String? {
        switch (expected.outcome, actual.outcome) {
        case (.delayed(let a), .delayed(let b)):
            return abs(a - b) <= tolerance ? nil : "delay \(b) ms instead of \(a) ms"
        default:
            return expected.outcome == actual.outcome ? nil : "\(actual) instead of \(expected)"
        }
    }
}
