@testable import DiscoRoles
import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
@testable import NodeRuntime
import Testing

/// The host role deletes the report entry of a member that left once its retention has passed,
/// and the member, coming back with the same ID, gets its join reported again.
@Suite(.serialized) struct HostRoleRetentionNodeTests {
    /// The member events for `dns` the node holds, as "type id" counts, and the newest seq.
    static func events(_ running: RoleTestNode, client: HTTPClient) async throws -> (counts: [String: Int], last: UInt64) {
        let page = try await running.getJSON("/events?role=dns&since=0&limit=1000", client: client)
        var counts: [String: Int] = [:]
        for event in page["events"]?.arrayValue ?? [] {
            guard let type = event["data"]?["type"]?.stringValue, let id = event["data"]?["member"]?["id"]?.stringValue else { continue }
            counts["\(type) \(id)", default: 0] += 1
        }
        return (counts, page["last_seq"]?.numberValue?.uint64Value ?? 0)
    }

    static func send(_ method: String, _ path: String, _ body: String, to running: RoleTestNode, client: HTTPClient) async throws -> Int {
        try await client.send(HTTPClientRequest(method: method, url: running.apiURL + path, body: Array(body.utf8))).status
    }

    static let ghost = ReportedMember.key("ghost")
    /// A non-voter that never runs, so the single voter keeps its quorum.
    static let ghostJoin = #"{"id":"ghost","addr":"127.0.0.99:7001","api_addr":"127.0.0.99:7011","voter":false,"cluster":"disco"}"#

    static func role(_ clock: ManualNow) -> HostRole {
        HostRole(targets: ["dns"], leftRetention: .seconds(3600), sweepInterval: .milliseconds(50), now: { clock.now })
    }

    /// h1 alone, with the role, once its own join is reported.
    static func startH1(_ configuration: NodeConfiguration, clock: ManualNow, client: HTTPClient) async throws -> RoleTestNode {
        let running = try await RoleTestNode.start(configuration, roles: [role(clock)])
        try await waitUntil("h1 to lead and report its join", timeout: .seconds(120)) {
            guard (try? await running.getJSON("/leader", client: client))?["id"] == "h1" else { return false }
            return (try? await events(running, client: client))?.counts["member-joined h1"] == 1
        }
        return running
    }

    /// ghost joins, is reported, is removed, its leave is reported, and its entry is deleted once
    /// the clock has passed the retention (not before).
    static func ghostComesAndGoes(_ running: RoleTestNode, clock: ManualNow, client: HTTPClient) async throws {
        #expect(try await send("POST", "/join", ghostJoin, to: running, client: client) == 200)
        try await waitUntil("ghost's join to be reported and recorded", timeout: .seconds(120)) {
            let joined = (try? await events(running, client: client))?.counts["member-joined ghost"]
            return running.node.keyValue(ghost).flatMap { ReportedMember(decoding: $0.value) }?.left == false && joined == 1
        }
        #expect(try await send("DELETE", "/remove", #"{"id":"ghost"}"#, to: running, client: client) == 200)
        try await waitUntil("ghost's leave to be recorded and waiting for the retention", timeout: .seconds(120)) {
            let kept = (try? await running.getJSON("/status", client: client))?["roles"]?["host"]?["left_reports_kept"]
            return running.node.keyValue(ghost).flatMap { ReportedMember(decoding: $0.value) }?.left == true && kept == 1
        }
        // Seen by the sweep, but the clock has not moved: still there.
        #expect(running.node.keyValue(ghost) != nil)
        clock.advance(by: .seconds(3601))
        try await waitUntil("ghost's entry to be deleted", timeout: .seconds(120)) { running.node.keyValue(ghost) == nil }
    }

    /// ghost joins again; once that is reported, the log holds exactly two joins and one leave.
    static func ghostReturns(_ running: RoleTestNode, client: HTTPClient) async throws {
        #expect(try await send("POST", "/join", ghostJoin, to: running, client: client) == 200)
        try await waitUntil("ghost's return to be reported and recorded", timeout: .seconds(120)) {
            let joined = (try? await events(running, client: client))?.counts["member-joined ghost"]
            return running.node.keyValue(ghost).flatMap { ReportedMember(decoding: $0.value) }?.left == false && joined == 2
        }
        let marker = try #require(try await running.append(#"{"type":"marker","roles":["dns"]}"#, client: client))
        let (counts, last) = try await events(running, client: client)
        #expect(counts == ["member-joined h1": 1, "member-joined ghost": 2, "member-left ghost": 1])
        #expect(last == marker)
    }

    /// Back with the same ID, ghost's join must not be taken for its first one (same idempotency
    /// key) and dropped.
    @Test func aLeftMembersEntryGoesAfterTheRetentionAndItsReturnIsReportedOnce() async throws {
        let clock = ManualNow()
        let configuration = try RoleTestNode.configuration(id: "h1")
        let client = HTTPClient()
        let running = try await Self.startH1(configuration, clock: clock, client: client)
        defer { running.removeDirectory() }
        try await Self.ghostComesAndGoes(running, clock: clock, client: client)
        try await Self.ghostReturns(running, client: client)
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    /// A host node still holding a view from before ghost left (a change queued behind slow
    /// reports, a comparison started earlier) reports it after ghost's entry is gone: with no
    /// entry to compare with, that view must give way to the current records, not report a join.
    @Test func aViewFromBeforeTheLeaveReportsNothingOnceTheEntryIsGone() async throws {
        let clock = ManualNow()
        let configuration = try RoleTestNode.configuration(id: "h1")
        let client = HTTPClient()
        let running = try await Self.startH1(configuration, clock: clock, client: client)
        defer { running.removeDirectory() }
        try await Self.ghostComesAndGoes(running, clock: clock, client: client)
        let before = try await Self.events(running, client: client)

        let role = Self.role(clock)
        let context = RoleContext(node: running.node, logger: Logger(label: "test", level: .warning, handler: LogfmtHandler(sink: MemoryLogSink())))
        let asItWas = ClusterMember(id: "ghost", raftAddress: "127.0.0.99:7001", apiAddress: "127.0.0.99:7011", voter: false)
        await role.report("ghost", current: asItWas, asOf: 2, context: context)

        #expect(try await Self.events(running, client: client) == before)
        #expect(running.node.keyValue(Self.ghost) == nil)
        #expect(await running.stop() == nil)
        await client.shutdown()
    }
}
