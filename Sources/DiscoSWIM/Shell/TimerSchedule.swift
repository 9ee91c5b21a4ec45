// MARK: - TimerSchedule

extension SWIM {
    /// The timers the core has armed, keyed by timer, each with one deadline.
    ///
    /// Arming a timer that is already armed moves its deadline (the core's contract). The shell
    /// keeps a single sleeping task aimed at ``earliest``; ``takeDue(at:)`` hands back every
    /// timer whose deadline has passed, earliest first. Pure: no clock, no tasks.
    struct TimerSchedule: Sendable {
        private var deadlines: [Timer: Duration] = [:]

        /// Number of armed timers.
        var count: Int { deadlines.count }

        /// The deadline `timer` is armed for, if it is.
        func deadline(of timer: Timer) -> Duration? { deadlines[timer] }

        /// Arms `timer` for `deadline`, replacing an earlier arming.
        mutating func arm(_ timer: Timer, at deadline: Duration) {
            deadlines[timer] = deadline
        }

        /// The earliest deadline of any armed timer.
        var earliest: Duration? { deadlines.values.min() }

        /// Removes and returns the timers due at `now`, earliest deadline first.
        mutating func takeDue(at now: Duration) -> [Timer] {
            let due = deadlines.filter { $0.value <= now }.sorted { $0.value < $1.value }
            for (timer, _) in due { deadlines[timer] = nil }
            return due.map(\.key)
        }

        /// Forgets every timer.
        mutating func removeAll() { deadlines.removeAll() }
    }
}
