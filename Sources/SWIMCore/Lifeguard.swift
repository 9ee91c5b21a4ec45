import DiscoCore

// MARK: - Local health (Lifeguard)

extension SWIM {
    /// The local health multiplier: a saturating score in 0...max. It rises when this member
    /// seems to be the slow one (failed probes, missed nacks, having to refute) and falls on
    /// successful probes; probe interval and timeout are scaled by score + 1.
    struct LocalHealth: Sendable, Hashable {
        private(set) var score = 0
        let max: Int

        init(max: Int) { self.max = Swift.max(0, max) }

        var multiplier: Int { score + 1 }

        mutating func apply(_ delta: Int) { score = Swift.min(max, Swift.max(0, score + delta)) }
    }

    // MARK: - Suspicion (Lifeguard)

    /// A running suspicion about a member. Its timeout starts at `maxTimeout` and shrinks
    /// logarithmically towards `minTimeout` as independent accusers confirm it.
    struct Suspicion: Sendable {
        var incarnation: UInt64
        var startedAt: Duration
        /// Distinct members that accused; the first is the origin, the rest confirmations.
        var accusers: Set<NodeID>
        var expectedConfirmations: Int
        var minTimeout: Duration
        var maxTimeout: Duration
        /// Whether this member keeps telling the suspect (buddy system): when it accused the
        /// suspect itself, or turned someone else's stale "dead" verdict into this suspicion.
        var notifiesSuspect = false

        var confirmations: Int { Swift.max(0, accusers.count - 1) }

        /// The timeout with `confirmations` independent confirmations:
        /// max(min, max − (max − min)·log(C + 1)/log(K + 1)).
        static func timeout(confirmations: Int, expected: Int, min: Duration, max: Duration) -> Duration {
            guard expected > 0, max > min else { return min }
            let fraction = naturalLog(Double(confirmations + 1)) / naturalLog(Double(expected + 1))
            let span = (max - min).seconds
            let value = max.seconds - span * Swift.min(1, fraction)
            return Swift.max(min, .nanoseconds(Int64((value * 1e9).rounded())))
        }

        var deadline: Duration {
            startedAt + Self.timeout(confirmations: confirmations, expected: expectedConfirmations, min: minTimeout, max: maxTimeout)
        }
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }

    /// The duration multiplied by a non-negative factor, to the nearest nanosecond.
    func scaled(by factor: Double) -> Duration {
        .nanoseconds(Int64((seconds * factor * 1e9).rounded()))
    }
}

/// Natural logarithm of x ≥ 1 (deterministic, no libm needed).
@inline(__always)
func naturalLog(_ x: Double) -> Double {
    // ln(x) = 2·atanh((x−1)/(x+1)) series; x ≥ 1 here and small, so a few terms suffice
    // after range reduction by powers of two.
    var value = x
    var exponent = 0.0
    while value >= 2 { value /= 2; exponent += 1 }
    let y = (value - 1) / (value + 1)
    let y2 = y * y
    var term = y
    var sum = 0.0
    var k = 1.0
    for _ in 0..<30 {
        sum += term / k
        term *= y2
        k += 2
    }
    return 2 * sum + exponent * 0.693_147_180_559_945_3
}
