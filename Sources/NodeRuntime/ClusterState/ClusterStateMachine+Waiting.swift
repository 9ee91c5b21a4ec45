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
        return events(since: seq, limit: limit)
    }

    /// Long-poll callers currently suspended.
    public var waitingCount: Int { guarded.withLock { $0.waiters.count } }

    /// Suspends until the last sequence number exceeds `seq` or the task is cancelled.
    private func suspendUntilEvent(after seq: UInt64) async {
        let id = guarded.withLock { guarded in
            guarded.nextWaiterID += 1
            return guarded.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = guarded.withLock { guarded -> Bool in
                    if guarded.state.lastSeq > seq { return true }
                    guarded.waiters[id] = Waiter(since: seq, continuation: continuation)
                    return false
                }
                if resumeNow {
                    continuation.resume()
                } else if Task.isCancelled {
                    // Cancelled before the waiter was registered: the handler found nothing to resume.
                    resumeWaiter(id)
                }
            }
        } onCancel: {
            resumeWaiter(id)
        }
    }

    /// Removes the waiter `id` and resumes it, if it is still waiting.
    private func resumeWaiter(_ id: UInt64) {
        guarded.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
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
            guarded.nextSubscriberID += 1
            guarded.subscribers[guarded.nextSubscriberID] = continuation
            return guarded.nextSubscriberID
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.guarded.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }
}
