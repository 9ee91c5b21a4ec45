// MARK: - One server connection: deadlines (one re-armed timer per connection)

extension HTTPServerConnection {
    /// Sets what happens when nothing more arrives within `delay`: the deadline of reading (a
    /// head, a body) or of idleness. The idle deadline does not close a connection whose response
    /// is still going out (``sendDeadline`` governs that); it starts again once it has gone.
    func setDeadline(after delay: Duration, _ action: DeadlineAction) {
        deadline = loop.turnNanoseconds &+ MonotonicClock.nanoseconds(delay)
        deadlineAction = action
        armTimer()
    }

    func clearDeadline() { deadline = 0 }

    /// Response bytes wait for the peer (or it just took some of them): it has the idle timeout
    /// to take more, or the connection closes. A peer that stops reading must not hold the
    /// connection, its queued response and its handler forever; a slow one that keeps reading
    /// is never cut off.
    func setSendDeadline() {
        sendDeadline = loop.turnNanoseconds &+ MonotonicClock.nanoseconds(shared.configuration.idleTimeout)
        armTimer()
    }

    /// Everything queued has gone: no send deadline, and an idle connection's idle wait starts now.
    func sendDrained() {
        sendDeadline = 0
        if phase == .open && exchange == nil && !closeAfterResponse && buffer.count == 0 && parser.isAtMessageBoundary {
            setDeadline(after: shared.configuration.idleTimeout, .closeSilently)
        }
    }

    /// The connection no longer needs its deadline (closed or handed off): a timer still queued
    /// no longer reaches it.
    func releaseTimer() {
        deadline = 0
        sendDeadline = 0
        timerTarget.target = nil
    }

    /// The earlier of the two deadlines (0: none).
    private var nextDeadline: UInt64 {
        if sendDeadline == 0 { return deadline }
        if deadline == 0 { return sendDeadline }
        return min(deadline, sendDeadline)
    }

    private func armTimer() {
        let due = nextDeadline
        guard phase == .open || phase == .lingering, due != 0, armedAt == 0 || armedAt > due else { return }
        armedAt = due
        let target = timerTarget
        _ = loop.scheduleTimer(at: due) { target.target?.timerFired(at: due) }
    }

    private func timerFired(at: UInt64) {
        if armedAt == at { armedAt = 0 }
        guard phase == .open || phase == .lingering else { return }
        let now = MonotonicClock.nowNanoseconds()
        if sendDeadline != 0 && now >= sendDeadline {
            // The peer took nothing for the idle timeout.
            closeNow()
            return
        }
        if deadline != 0 && now >= deadline {
            deadline = 0
            switch deadlineAction {
            case .closeSilently:
                // A response still going out is not idleness (see `sendDrained`).
                if phase == .open && pendingOutboundBytes > 0 { break }
                closeNow()
                return
            case .headerTimeout:
                failRequest(HTTPParseError(status: 408, reason: "request not received within \(shared.configuration.headerReadTimeout)"))
            case .bodyTimeout:
                failRequest(HTTPParseError(status: 408, reason: "request body stalled: nothing received for \(shared.configuration.idleTimeout)"))
            }
        }
        armTimer()
    }
}
