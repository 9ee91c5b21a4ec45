import Synchronization

// MARK: - Closing a splice that has gone idle

/// Closes both legs of a splice once no bytes have moved either way for `timeout` (a peer that
/// vanished without a FIN would otherwise hold its connections forever).
///
/// Cheap on the data path: a read bumps a relaxed atomic counter, with no clock read and no
/// timer re-armed. One loop timer looks at the counter every ``checksPerTimeout``-th of the
/// timeout; when it has not moved for that many looks in a row, nothing has moved for at least
/// the timeout (and at most a look more), and both connections are closed.
final class SpliceIdleWatch: @unchecked Sendable {
    // @unchecked Sendable: `activity` and `fired` are atomics; everything else is touched only
    // on `loop`'s thread (start, stop and the timer all run there).

    /// Looks per timeout: the closing comes at most a quarter of the timeout late.
    static let checksPerTimeout = 4

    let timeout: Duration
    private let loop: EventLoop
    private let period: Duration
    private let activity = Atomic<UInt64>(0)
    private let fired = Atomic<Bool>(false)
    /// The two legs, until the splice ends (then dropped, so a cancelled timer still queued
    /// holds only this object).
    private var legs: (TCPConnection, TCPConnection)?
    private var lastSeen: UInt64 = 0
    private var quietChecks = 0
    private var timer: TimerID?
    private var stopped = false

    init(timeout: Duration, legs: (TCPConnection, TCPConnection)) {
        self.timeout = timeout
        self.legs = legs
        loop = legs.0.channel.loop
        period = max(timeout / Self.checksPerTimeout, .milliseconds(1))
    }

    /// Bytes moved (called once per read, from either direction's task).
    @inline(__always)
    func noteActivity() { activity.wrappingAdd(1, ordering: .relaxed) }

    /// True once the watch closed the legs for idleness.
    var timedOut: Bool { fired.load(ordering: .acquiring) }

    func start() { loop.execute { self.arm() } }

    /// The splice ended: no more looks (safe before ``start()`` has run on the loop).
    func stop() {
        loop.execute {
            self.stopped = true
            self.legs = nil
            if let timer = self.timer { self.loop.cancelTimer(timer) }
            self.timer = nil
        }
    }

    private func arm() {
        guard !stopped else { return }
        timer = loop.scheduleTimer(after: period) { self.check() }
    }

    private func check() {
        timer = nil
        guard !stopped, let legs else { return }
        let seen = activity.load(ordering: .relaxed)
        if seen != lastSeen {
            lastSeen = seen
            quietChecks = 0
        } else {
            quietChecks += 1
        }
        guard quietChecks >= Self.checksPerTimeout else {
            arm()
            return
        }
        fired.store(true, ordering: .releasing)
        stopped = true
        self.legs = nil
        legs.0.close()
        legs.1.close()
    }
}
