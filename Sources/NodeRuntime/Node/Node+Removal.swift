import DiscoCore
import DiscoLifecycle
import Foundation
import Synchronization

// MARK: - NodeRemoval

/// How this node learned that it was removed from the cluster.
struct NodeRemoval: Sendable, Hashable {
    /// The member that told it (nil: it led the cluster when its own removal committed).
    var reportedBy: NodeID?
    /// The log index of the committed configuration without it (0 when a leader answered a
    /// rejoin with "removed").
    var configIndex: UInt64
    /// Wall-clock time it learned it, in milliseconds since the Unix epoch.
    var atMillis: Int64
    /// Where it read that it is not a member, when it read it itself (etcd's membership).
    var readFrom: String?

    var reporter: String {
        if let reportedBy { return "told by node \(reportedBy)" }
        if let readFrom { return "\(readFrom) no longer names it" }
        return configIndex == 0 ? "a leader answered that it is no longer a member" : "its own removal committed while it led"
    }

    var json: JSONValue {
        [
            "reported_by": reportedBy.map { .string($0.rawValue) } ?? .null,
            "config_index": .number(JSONNumber(configIndex)),
            "time_ms": .number(JSONNumber(atMillis)),
        ]
    }
}

// MARK: - A removed node knows it

extension Node {
    /// Called once the engine (or a leader answering a rejoin, or etcd's membership read by
    /// this node: `readFrom`) says this node is no longer a member: records it in the data
    /// directory (so a restart without `-join` refuses to run), reports it on `/status` and
    /// `/readyz`, and exits with status 1 after
    /// ``NodeConfiguration/Timing-swift.struct/removedLinger``.
    func noticeRemoval(_ notice: RemovalNotice, readFrom: String? = nil) async {
        let removal = NodeRemoval(reportedBy: notice.reportedBy, configIndex: notice.configIndex,
                                  atMillis: Int64(Date().timeIntervalSince1970 * 1000), readFrom: readFrom)
        let first = runtime.withLock { state -> Bool in
            guard state.removal == nil else { return false }
            state.removal = removal
            return true
        }
        guard first else { return }
        do {
            try directory.recordRemoval(removal.json)
        } catch {
            logger.error("cannot record the removal in \(directory.removalPath): \(error)")
        }
        logger.error("node \(id) was removed from the cluster (\(removal.reporter)); it no longer takes part and exits in "
            + "\(GoDuration.format(configuration.timing.removedLinger)). To make it a member again, start it with -join <a member's API address> "
            + "(or its -disco-mode): it sets its old Raft state aside and joins as a new member")
        removalNoticed.open()
    }

    /// The removal this node knows of, if any.
    var removal: NodeRemoval? { runtime.withLock { $0.removal } }

    /// At start: a node that was removed runs again only when it can find the cluster to join as
    /// a new member: through `-join`, or through discovery (`-disco-mode`), as a StatefulSet pod
    /// scaled away, removed, and scaled back with its old volume. Alone it would form a cluster
    /// of its own, so it refuses to start.
    static func checkRemoval(_ directory: NodeDataDirectory, configuration: NodeConfiguration, logger: Logger) throws(NodeStartupError) {
        guard let record = directory.removalRecord() else { return }
        let by = record["reported_by"]?.stringValue.map { " (told by node \($0))" } ?? ""
        let formation = configuration.formation
        guard !formation.join.isEmpty || (formation.discovery != nil && formation.plan != .singleNode) else {
            throw NodeStartupError("node \(configuration.nodeID) was removed from its cluster\(by) and does not run again as a member; "
                + "start it with -join <a member's API address> (or the -disco-mode that finds the cluster) to join as a new member "
                + "(its old Raft state is set aside), or start it with a fresh data directory")
        }
        do {
            try directory.setAsideRaftStateAfterRemoval()
        } catch {
            throw NodeStartupError("node \(configuration.nodeID) was removed from its cluster\(by); cannot set its old Raft state aside: \(error)")
        }
        let through = formation.join.isEmpty ? "discovery (-disco-mode)" : "-join"
        logger.warning("node \(configuration.nodeID) was removed from its cluster\(by): its old Raft state is in "
            + "\(directory.setAsideRaftDirectory); joining again through \(through) as a new member")
    }
}
