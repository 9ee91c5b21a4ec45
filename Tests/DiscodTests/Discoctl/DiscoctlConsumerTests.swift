import DiscoCore
import DiscoTestKit
import Testing

/// `discoctl events -role R -consumer C` against a real `discod` whose retention trims the log.
@Suite struct DiscoctlConsumerTests {
    /// A consumer whose cursor fell behind the retention window got 410 on every run, and
    /// `-since` cannot be combined with `-consumer`: it could never resume. It continues at the
    /// oldest retained event, saying on standard error what was trimmed, as a role does.
    @Test func aConsumerBehindTheRetentionWindowContinuesAtTheOldestRetainedEvent() async throws {
        let cluster = try DiscodCluster(name: "ctl-consumer-trimmed")
        defer { Task { await cluster.shutdown() } }
        let node = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: ["-events-retain", "2"])
        try await DiscodCluster.waitForLeader([node])
        try await waitUntil("the cluster to be initialized", timeout: .seconds(30), pollEvery: .milliseconds(50)) {
            try await node.status()["cluster"]?["epoch"]?.isNull == false
        }
        let arguments = ["events", "-role", "dns", "-consumer", "c1", "-format", "jsonl"]
        #expect(try await node.appendEvent(#"{"type":"a","roles":["dns"]}"#) == 1)
        let first = try await Discoctl.run(node, arguments)
        #expect(first.status == 0 && Discoctl.lines(first).count == 1, "\(first)")

        for n in 2...6 { #expect(try await node.appendEvent(#"{"type":"b","n":\#(n),"roles":["dns"]}"#) == UInt64(n)) }
        try await waitUntil("the leader to trim the log to two events", timeout: .seconds(60)) {
            try await node.status()["events"]?["first_seq"]?.numberValue?.uint64Value == 5
        }
        let resumed = try await Discoctl.run(node, arguments)
        #expect(resumed.status == 0, "\(resumed)")
        #expect(Discoctl.lines(resumed).compactMap { try? JSONValue.parse($0)["seq"]?.numberValue?.uint64Value } == [5, 6], "\(resumed)")
        #expect(resumed.standardError.contains("trimmed"), "\(resumed)")
        let cursor = try await node.request("GET", "/events/cursor?role=dns&consumer=c1")
        #expect(cursor.json?["seq"] == 6, "\(cursor.text)")
    }
}
