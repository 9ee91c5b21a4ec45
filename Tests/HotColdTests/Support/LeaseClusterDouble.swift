import DiscoCore
import DiscoTestKit
import HotCold
import LeaseCore
import Testing

// MARK: - The two stores the shell runs over in tests

/// Where the lease table lives in a test: DiscoTestKit's in-memory table (commands applied in
/// one log order) or its in-memory key-value space with ``KeyValueLeaseTableStore`` on top (the
/// way the node's replicated state and etcd keep it).
enum LeaseBackend: String, CaseIterable, CustomTestStringConvertible {
    case table
    case keyValue

    var testDescription: String { rawValue }

    func makeCluster(leader: NodeID?, commitDelay: Duration) -> any LeaseClusterDouble {
        switch self {
        case .table: InMemoryLeaseCluster(leader: leader, commitDelay: commitDelay)
        case .keyValue: InMemoryKeyValueCluster(leader: leader, commitDelay: commitDelay)
        }
    }
}

/// What the harness and the tests need from either in-memory cluster.
protocol LeaseClusterDouble: Sendable {
    func leaseStore(for node: NodeID, logger: Logger) -> any LeaseTableStore
    func setLeader(_ node: NodeID?)
    func setReachable(_ node: NodeID, _ reachable: Bool)
    func setAlive(_ node: NodeID, _ alive: Bool)
    /// The nodes whose candidacy for `group` is known.
    func announced(in group: LeaseGroup) -> [NodeID]
    /// The group's state after every change, in order.
    func history(of group: LeaseGroup) -> [LeaseState]
}

extension LeaseClusterDouble {
    /// The group's current state.
    func lease(_ group: LeaseGroup) -> LeaseState { history(of: group).last ?? LeaseState() }
}

extension InMemoryLeaseCluster: LeaseClusterDouble {
    func leaseStore(for node: NodeID, logger: Logger) -> any LeaseTableStore { store(for: node) }

    func announced(in group: LeaseGroup) -> [NodeID] { candidates(in: group).map(\.node) }

    func history(of group: LeaseGroup) -> [LeaseState] {
        var table = LeaseTable()
        var states: [LeaseState] = []
        for entry in log where entry.command.group == group {
            if table.apply(entry.command, index: entry.index).changedState { states.append(table[group]) }
        }
        return states
    }
}

extension InMemoryKeyValueCluster: LeaseClusterDouble {
    func leaseStore(for node: NodeID, logger: Logger) -> any LeaseTableStore {
        KeyValueLeaseTableStore(node: node, space: space(for: node), logger: logger)
    }

    func announced(in group: LeaseGroup) -> [NodeID] {
        let prefix = KeyValueLeaseTableStore.candidatePrefix(group)
        return Set(history.filter { $0.name.hasPrefix(prefix) }.compactMap { NodeID(String($0.name.dropFirst(prefix.count))) }).sorted()
    }

    func history(of group: LeaseGroup) -> [LeaseState] {
        let name = KeyValueLeaseTableStore.leaseName(group)
        return history.filter { $0.name == name }.compactMap { try? LeaseRecord.decodeState($0.value) }
    }
}
