import DiscoCore
import DiscoSystem
import DiscoTestKit
import Foundation
import HotCold
import HotColdNode
import LeaseCore
import NodeRuntime
import Testing

/// A real node that served one hot/cold group and restarts serving another.
@Suite("Hot/cold: a node that changes group")
struct HotColdRegroupTests {
    static let timeout: Duration = .seconds(60)

    /// h1 serves `orders`, then restarts serving `ledger` and stays the Raft leader. Its old
    /// candidacy is withdrawn, so `orders` — now on h2 alone — gets grants from h2 itself (the
    /// leader runs no replica of it) and h2 becomes hot.
    @Test func theOldGroupIsLeftAndItsReplicasStillGetAHot() async throws {
        let logger = Logger(label: "test", level: .warning, handler: LogfmtHandler(sink: MemoryLogSink()))
        let (first, port) = try HotColdRoleTests.configuration("h1", join: nil)
        let (second, _) = try HotColdRoleTests.configuration("h2", join: port)
        defer { for directory in [first.dataDirectory, second.dataDirectory] { try? FileManager.default.removeItem(atPath: directory) } }
        let stale = KeyValueLeaseTableStore.candidatePrefix("orders") + "h1"
        try await withNodes { started, nodes in
            let before = HotColdRole(configuration: HotColdRoleTests.hotCold(group: "orders"))
            let h1 = try await Node.start(first, logger: logger, roles: [before])
            started.add(h1)
            let run = Task { try await h1.run() }
            try await waitUntil("h1 hot in orders", timeout: Self.timeout) { before.shell?.gate.fencingToken() != nil }
            #expect(h1.keyValue(KVKey("hot-cold", stale)) != nil)
            h1.shutdown()
            try await run.value

            let after = HotColdRole(configuration: HotColdRoleTests.hotCold(group: "ledger"))
            let again = try await Node.start(first, logger: logger, roles: [after])
            started.add(again)
            nodes.addTask { try await again.run() }
            try await waitUntil("h1 hot in ledger", timeout: Self.timeout) { after.shell?.gate.fencingToken() != nil }
            try await waitUntil("h1's orders candidacy withdrawn", timeout: Self.timeout) { again.keyValue(KVKey("hot-cold", stale)) == nil }

            let orders = HotColdRole(configuration: HotColdRoleTests.hotCold(group: "orders"))
            let h2 = try await Node.start(second, logger: logger, roles: [orders])
            started.add(h2)
            nodes.addTask { try await h2.run() }
            try await waitUntil("h2 hot in orders", timeout: Self.timeout) { orders.shell?.gate.fencingToken() != nil }
            #expect(after.shell?.gate.fencingToken() != nil, "h1 stays hot in ledger")
            h2.shutdown()
            again.shutdown()
        }
    }
}
