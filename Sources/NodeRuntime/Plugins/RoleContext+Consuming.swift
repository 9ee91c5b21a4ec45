import DiscoCore

// MARK: - Consuming the events for a role

extension RoleContext {
    /// Handles the events for `role` (those whose `roles` name it) in order, as `consumer`
    /// (default: this node's ID, or ``Node/defaultConsumer(for:)`` for an ID that cannot name a
    /// cursor), from the consumer's durable cursor in the replicated state,
    /// until the task is cancelled. After each page it acknowledges the last event handled, so
    /// a restarted consumer resumes there: delivery is at least once (a crash between handling
    /// an event and its acknowledgement hands it over again), so `handle` should be idempotent.
    /// An error thrown by `handle` ends consuming with that error (nothing after the last
    /// acknowledgement counts as consumed). While no events for `role` arrive, the cursor is
    /// moved past the events for other roles once it is in the older half of the retained
    /// window, so a live consumer's cursor does not stay behind the window (where the leader
    /// deletes cursors left unchanged for `timing.cursorIdleDeletion`) for want of events of
    /// its own.
    public func consumeEvents(for role: String, as consumer: String? = nil,
                              _ handle: @Sendable (ClusterEvent) async throws -> Void) async throws {
        let consumer = consumer ?? Node.defaultConsumer(for: node.id)
        if let problem = RoleNames.problem(with: role) ?? Node.consumerProblem(consumer) {
            throw ReplicatedStateError(.invalid, problem)
        }
        await waitUntilCaughtUp()
        var cursor = node.eventCursor(role: role, consumer: consumer)
        var acknowledged = cursor
        if cursor == 0, node.store.firstSeq > 1 {
            logger.info("consuming events for role \(role) as \(consumer) from the oldest retained event \(node.store.firstSeq): "
                + "it has no cursor (a new consumer, or one whose cursor was behind the retention window or whose node was removed)")
        } else {
            logger.info("consuming events for role \(role) as \(consumer) after seq \(cursor)")
        }
        while !Task.isCancelled {
            switch await node.events(for: role, since: cursor, limit: 100, wait: .seconds(30), budget: EventPageBudget(), acknowledged: acknowledged) {
            case .trimmed(let page):
                logger.warning("events \(cursor + 1)...\(page.firstSeq - 1) were trimmed before \(consumer) consumed them; "
                    + "continuing at \(page.firstSeq)")
                cursor = page.firstSeq - 1
            case .page(let page):
                for event in page.events {
                    try await handle(event)
                    cursor = event.seq
                }
                guard let last = page.events.last?.seq else {
                    cursor = page.scannedThrough
                    if cursor > acknowledged, acknowledged < page.firstSeq / 2 + page.lastSeq / 2 {
                        await acknowledge(role: role, consumer: consumer, through: cursor)
                        acknowledged = cursor
                    }
                    continue
                }
                cursor = page.scannedThrough
                await acknowledge(role: role, consumer: consumer, through: last)
                acknowledged = last
            }
        }
    }

    /// Acknowledges, retrying while no leader takes the write (until cancelled).
    private func acknowledge(role: String, consumer: String, through seq: UInt64) async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                _ = try await node.acknowledgeEvents(role: role, consumer: consumer, through: seq)
                return
            } catch {
                logger.warning("cannot store \(consumer)'s cursor for \(role) at \(seq): \(error); retrying")
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// Waits until this node knows a leader and has applied everything committed as far as it
    /// knows: a restarted node then reads its cursor as it was stored, not as an older state.
    public func waitUntilCaughtUp() async {
        while !Task.isCancelled {
            let status = node.consensus.status
            if status.leader != nil, status.commitIndex > 0, status.appliedIndex >= status.commitIndex { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
