import DiscoCore
import NodeRuntime
import Synchronization

// MARK: - Deleting the reports of members that left

extension HostRole {
    /// Deletes, every ``sweepInterval``, the report entries ``ReportRetention`` finds due, each
    /// with a compare-and-set on the revision read (a report recorded meanwhile wins), until
    /// cancelled.
    func deleteLeftReports(_ context: RoleContext) async {
        var retention = ReportRetention(retention: leftRetention)
        while !Task.isCancelled {
            // The members are read after the entries, so they are at least as new.
            let entries = context.node.keyValues(namespace: ReportedMember.namespace).entries
            let members = Set(context.memberRecords.members.map(\.id))
            let due = retention.due(entries: entries, members: members, now: now())
            waiting.store(retention.waiting, ordering: .relaxed)
            for entry in due where !Task.isCancelled {
                await delete(entry, context: context)
            }
            try? await Task.sleep(for: sweepInterval)
        }
    }

    private func delete(_ entry: KVEntry, context: RoleContext) async {
        do {
            let outcome = try await context.node.transact(KVTransaction(conditions: [KVCondition(entry.key, revision: entry.revision)],
                                                                        operations: [.delete(entry.key)]))
            switch outcome {
            case .committed:
                deleted.add(1, ordering: .relaxed)
                context.logger.info("deleted the report entry of \(entry.key.name), a member that left")
            case .conflict:
                break  // changed meanwhile (the member came back, or another host node deleted it)
            case .refused(let reason):
                context.logger.warning("could not delete the report entry of \(entry.key.name): \(reason)")
            }
        } catch {
            // No leader takes writes: the next sweep tries again.
            context.logger.info("could not delete the report entry of \(entry.key.name) yet: \(error)")
        }
    }
}
