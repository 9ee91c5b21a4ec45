import DiscoCore

// MARK: - Datagrams one sender may have handled

extension SWIM {
    /// A token bucket per source address, checked before a datagram is opened or decoded, so a
    /// flood from one address costs the member little more than reading it, and the datagrams of
    /// every other sender are still handled.
    ///
    /// Generous on purpose: a member sends another a few datagrams per protocol period (a probe,
    /// acks, its share of gossip rounds, probe requests and their answers). With the default
    /// 200 ms period and 100 ms gossip interval that is at most some 35 a second; adding the all
    /// but impossible case of the 98 other members of a 100-member cluster all asking the same
    /// helper to ping the same target in every period gives about 525 a second. ``standard``
    /// lets 2,000 a second through after a burst of 4,000: legitimate traffic never comes near it.
    /// A sender is an address and port (one member); a flood from many ports is bounded per port.
    ///
    /// Pure: no clock is read; the caller passes the time as a duration since any fixed origin
    /// (the same origin on every call). Remembers at most `capacity` senders, so a flood from
    /// many addresses cannot grow it: a new sender that finds it full first forgets the
    /// senders whose buckets have refilled, and if none have, starts afresh (every sender then
    /// gets a full bucket again: never a legitimate datagram dropped, never unbounded memory).
    public struct SenderBudget: Sendable {
        /// Datagrams per second a sender may keep sending.
        public let rate: Int
        /// Datagrams a sender may send at once after a quiet spell.
        public let burst: Int
        /// Most senders remembered.
        public let capacity: Int
        private var buckets: [PeerAddress: Bucket] = [:]

        private struct Bucket: Sendable {
            var tokens: Double
            var updated: Duration
        }

        /// The budget members use unless configured otherwise: 2,000 datagrams a second per
        /// sender, bursts of 4,000, 4,096 senders remembered.
        public static let standard = SenderBudget(rate: 2_000, burst: 4_000, capacity: 4_096)

        /// A budget of `rate` datagrams a second per sender after bursts of `burst`, remembering
        /// `capacity` senders (each at least one: smaller values count as one).
        public init(rate: Int, burst: Int, capacity: Int = 4_096) {
            self.rate = max(1, rate)
            self.burst = max(1, burst)
            self.capacity = max(1, capacity)
        }

        // MARK: Deciding

        /// Whether a datagram from `sender` arriving at `now` is within its budget (and takes
        /// one datagram of it), or is to be dropped unread.
        public mutating func admits(_ sender: PeerAddress, at now: Duration) -> Bool {
            if var bucket = buckets[sender] {
                bucket.tokens = refilled(bucket, at: now)
                bucket.updated = max(bucket.updated, now)
                let admitted = bucket.tokens >= 1
                if admitted { bucket.tokens -= 1 }
                buckets[sender] = bucket
                return admitted
            }
            if buckets.count >= capacity {
                buckets = buckets.filter { refilled($0.value, at: now) < Double(burst) }
                if buckets.count >= capacity { buckets.removeAll() }
            }
            buckets[sender] = Bucket(tokens: Double(burst - 1), updated: now)
            return true
        }

        /// `bucket`'s datagrams at `now`: what it had plus `rate` a second since, at most `burst`.
        private func refilled(_ bucket: Bucket, at now: Duration) -> Double {
            guard now > bucket.updated else { return bucket.tokens }
            let (seconds, attoseconds) = (now - bucket.updated).components
            let elapsed = Double(seconds) + Double(attoseconds) * 1e-18
            return min(Double(burst), bucket.tokens + elapsed * Double(rate))
        }

        // MARK: Inspecting

        /// How many senders it remembers now.
        public var trackedSenders: Int { buckets.count }
    }
}
