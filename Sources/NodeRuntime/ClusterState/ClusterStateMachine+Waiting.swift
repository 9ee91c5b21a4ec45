import DiscoCore
import Synchronization

// MARK: - Long polling

extension ClusterStateMachine {
    /// Events with a sequence number above `seq` (at most `limit`) and the last sequence number,
    /// waiting up to `timeout` for the first one when there is none yet.
    ///
    /// Returns at once when such events exist, when events after `seq` were trimmed (or `limit`
    /// or `timeout` is not positive);
    /// otherwise suspends — holding no thread — until an event is applied, the timeout passes, or
    /// the calling task is cancelled (then it returns promptly with what exists, usually nothing).
    public func waitForEvents(since seq: UInt64, limit: Int, timeout: Duration) async -> EventPage {
        let current = events(since: seq, limit: limit)
        guard current.events.isEmpty, !current.missedEvents(since: seq), limit > 0, timeout > .zero, !Task.isCancelled else {
            return current
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.suspendUntilEvent(after: seq) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        // A wait that timed out (or was cancelled) recorded its waiter as ended: forget it now,
        // not at the next event, which an idle log may not see for hours.
        guarded.withLock { cancelledWaiters.removeEnded(from: &$0.waiters) }
        return events(since: seq, limit: limit)
    }

    /// Long-poll callers currently suspended.
    public var waitingCount: Int {
        guarded.withLock { guarded in
            cancelledWaiters.removeEnded(from: &guarded.waiters)
            return guarded.waiters.count
        }
    }

    /// How many ``changes()`` streams and key-value watches are live (their consumers have not
    /// stopped).
    var subscriptionCounts: (changes: Int, watches: Int) {
        guarded.withLock { guarded in
            removeEndedSubscriptions(&guarded)
            return (guarded.subscribers.count, guarded.keyValueWatchers.count)
        }
    }

    /// Suspends until the last sequence number exceeds `seq` or the task is cancelled.
    ///
    /// The cancellation handler runs under the task's status lock, so it never takes `guarded`
    /// (held while key-value watches are yielded to): it wakes the waiter through its own
    /// ``OneShotWakeUp`` and leaves the removal to `guarded`'s next holder.
    private func suspendUntilEvent(after seq: UInt64) async {
        let wakeUp = OneShotWakeUp()
        let id = guarded.withLock { guarded in
            guarded.nextWaiterID += 1
            return guarded.nextWaiterID
        }
        await withTaskCancellationHandler {
            await wakeUp.wait {
                let eventExists = guarded.withLock { guarded -> Bool in
                    if guarded.state.lastSeq > seq { return true }
                    // Cancelled already: its handler woke it first and then recorded the id,
                    // which another holder of `guarded` may have drained before this insertion.
                    // Once registered, the id is recorded after this check, and so drained
                    // after the insertion.
                    guard !wakeUp.isWoken else { return false }
                    guarded.waiters[id] = Waiter(since: seq, wakeUp: wakeUp)
                    return false
                }
                if eventExists { wakeUp.wake() }
            }
        } onCancel: {
            // Wake first, record second: see the registration above.
            wakeUp.wake()
            cancelledWaiters.record(id)
        }
    }

    // MARK: Membership changes

    /// Every later change of the cluster's name or membership, and every snapshot restore, in
    /// the order applied, until the consumer stops iterating or the state machine is released.
    ///
    /// Events are not published here (use ``waitForEvents(since:limit:timeout:)``). Entries are
    /// buffered without limit, which is harmless since membership changes are rare. To look a
    /// member up synchronously (for example in Raft's address book), use ``member(_:)``.
    public func changes() -> AsyncStream<ClusterStateChange> {
        let (stream, continuation) = AsyncStream.makeStream(of: ClusterStateChange.self)
        let id = guarded.withLock { guarded in
            removeEndedSubscriptions(&guarded)
            guarded.nextSubscriberID += 1
            guarded.subscribers[guarded.nextSubscriberID] = continuation
            return guarded.nextSubscriberID
        }
        // Runs under the consumer task's status lock: must not take `guarded` (see `guarded`).
        continuation.onTermination = { [endedSubscribers] _ in endedSubscribers.record(id) }
        return stream
    }
}
