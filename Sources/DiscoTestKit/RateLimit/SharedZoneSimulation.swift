import DiscoCore
import RateLimitCore

// MARK: - SharedZoneSimulation

/// N replicas of ``SharedRateLimiter`` sharing one zone, under seeded traces in virtual time:
/// clients send to random replicas, often far above the rate; counts travel between replicas
/// with random delays up to d. Checks, for every key and every window of T ms, that the cluster
/// admitted no more than the documented bound
/// `(1 + burst + rate·T) + (N − 1)(1 + burst + rate·(G + d))`, and measures how much of the
/// bound's excess term was used.
public struct SharedZoneSimulation {
    public struct Report: Sendable {
        public var seed: UInt64
        public var description = ""
        public var admitted = 0
        public var requests = 0
        /// The largest share of the bound's excess term `(N − 1)(1 + burst + rate(G + d))` that
        /// any window used (0 when the cluster never admitted more than one replica would).
        public var excessUsed = 0.0
        public var violations: [String] = []
    }

    enum Event {
        case request(replica: Int, client: Int)
        case tick(replica: Int)
        case deliver(replica: Int, counts: RateLimitCounts)
    }

    let seed: UInt64
    var random: DeterministicRandom
    let replicas: Int
    let zone: LimitReqZone
    let limit: LimitReq
    let interval: Int64
    let maximumDelivery: Int64
    let exchange: Bool
    var limiters: [SharedRateLimiter]
    var queue = EventQueue<Event>()
    var admissions: [Int: [Int64]] = [:]
    var report: Report

    /// - Parameter exchange: `false` runs the same replicas without ever delivering counts (to
    ///   show what the exchange prevents): the excess is still measured, the bound not enforced.
    public init(seed: UInt64, exchange: Bool = true) {
        self.seed = seed
        self.exchange = exchange
        var random = DeterministicRandom(seed: seed)
        replicas = [2, 3, 5][Int(random.next() % 3)]
        let rate = random.next() % 2 == 0
            ? LimitRate(requests: 1 + Int(random.next() % 50), per: .perSecond)
            : LimitRate(requests: 30 + Int(random.next() % 3000), per: .perMinute)
        let zone = LimitReqZone(name: "shared", rate: rate)
        self.zone = zone
        let delays: [LimitReq.Delay] = [.paced, .nodelay, .after(2)]
        limit = LimitReq(zone: 0, burst: Int(random.next() % 11), delay: delays[Int(random.next() % 3)])
        let interval: Int64 = [50, 100, 250, 1000][Int(random.next() % 4)]
        self.interval = interval
        maximumDelivery = [0, 20, 100][Int(random.next() % 3)]
        self.random = random
        report = Report(seed: seed)
        limiters = (0..<replicas).map { _ in SharedRateLimiter(zones: [zone], sharedZones: [0], exchangeInterval: interval) }
        report.description = "\(replicas) replicas, rate=\(rate) burst=\(limit.burst) \(limit.delay), exchange every \(interval) ms, delivery ≤ \(maximumDelivery) ms"
    }

    // MARK: Running

    public mutating func run(duration: Int64 = 20_000) -> Report {
        let start: Int64 = 5_000_000
        for replica in 0..<replicas { queue.schedule(.tick(replica: replica), at: .milliseconds(start)) }
        var time = start
        while time < start + duration {
            // Attacks far above the rate (gaps of 0–5 ms) alternate with quiet spells.
            let attacking = (time - start) / 2000 % 2 == 0
            time += attacking ? Int64(random.next() % 6) : Int64(random.next() % 400)
            let client = Int(random.next() % 3)
            queue.schedule(.request(replica: Int(random.next() % UInt64(replicas)), client: client), at: .milliseconds(time))
        }
        while let (time, event) = queue.pop() {
            let now = time.components.seconds * 1000 + time.components.attoseconds / 1_000_000_000_000_000
            guard now <= start + duration + 5000 else { break }
            handle(event, now: now)
        }
        checkBound()
        return report
    }

    mutating func handle(_ event: Event, now: Int64) {
        switch event {
        case .request(let replica, let client):
            report.requests += 1
            let decision = limiters[replica].decide(LimitReqPolicy(limits: [limit]), keys: [RateLimitKey("client-\(client)")], now: now)
            if decision.action != .reject(status: limit.status) {
                report.admitted += 1
                admissions[client, default: []].append(now)
            }
        case .tick(let replica):
            for effect in limiters[replica].tick(now: now) {
                switch effect {
                case .tick(let at): queue.schedule(.tick(replica: replica), at: .milliseconds(at))
                case .send(let counts):
                    guard exchange else { continue }
                    for other in 0..<replicas where other != replica {
                        let delay = maximumDelivery == 0 ? 0 : Int64(random.next() % UInt64(maximumDelivery + 1))
                        queue.schedule(.deliver(replica: other, counts: counts), at: .milliseconds(now + delay))
                    }
                }
            }
        case .deliver(let replica, let counts):
            limiters[replica].receive(counts, now: now)
        }
    }

    // MARK: The bound

    /// In millionths of a request: admitted × 10⁶ ≤ N(1 + burst) × 10⁶ + rate × (T + (N − 1)(G + d)).
    mutating func checkBound() {
        let rate = zone.rate.milliRequestsPerSecond
        let burst = Int64(limit.burst)
        let others = Int64(replicas - 1)
        let excessTerm = others * (1 + burst) * 1_000_000 + rate * others * (interval + maximumDelivery)
        for (client, times) in admissions.sorted(by: { $0.key < $1.key }) {
            for first in times.indices {
                for last in first..<times.count {
                    let window = times[last] - times[first]
                    let admitted = Int64(last - first + 1) * 1_000_000
                    let single = (1 + burst) * 1_000_000 + rate * window
                    if exchange, admitted > single + excessTerm, report.violations.isEmpty {
                        report.violations.append("client \(client): \(last - first + 1) admitted in \(window) ms, bound \(Double(single + excessTerm) / 1e6)")
                    }
                    if admitted > single { report.excessUsed = max(report.excessUsed, Double(admitted - single) / Double(excessTerm)) }
                }
            }
        }
    }
}
