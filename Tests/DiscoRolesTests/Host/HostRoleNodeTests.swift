@testable import DiscoRoles
import DiscoCore
import DiscoNet
import DiscoTestKit
import NodeRuntime
import Testing

/// The host role running in a node: members it has not reported yet are reported when it
/// starts, once, however many times it starts.
@Suite(.serialized) struct HostRoleNodeTests {
    /// The member-joined events for `dns` the node holds, by member ID, and the newest seq.
    static func joined(_ running: RoleTestNode, client: HTTPClient) async throws -> (counts: [String: Int], last: UInt64) {
        let page = try await running.getJSON("/events?role=dns&since=0&limit=1000", client: client)
        var counts: [String: Int] = [:]
        for event in page["events"]?.arrayValue ?? [] where event["data"]?["type"] == "member-joined" {
            if let id = event["data"]?["member"]?["id"]?.stringValue { counts[id, default: 0] += 1 }
        }
        return (counts, page["last_seq"]?.numberValue?.uint64Value ?? 0)
    }

    @Test func aMemberRecordedBeforeTheRoleRanIsReportedWhenItStartsAndOnlyOnce() async throws {
        let configuration = try RoleTestNode.configuration(id: "h1")
        // Formed without the role: the founder's record is committed, nobody reports it.
        var running = try await RoleTestNode.start(configuration, roles: [])
        defer { running.removeDirectory() }
        let client = HTTPClient()
        try await waitUntil("h1 to lead and be ready", timeout: .seconds(120)) {
            guard (try? await running.getJSON("/leader", client: client))?["id"] == "h1" else { return false }
            return (try? await client.send(HTTPClientRequest(url: running.apiURL + "/readyz")))?.status == 200
        }
        #expect(try await Self.joined(running, client: client).counts.isEmpty)
        let stopped = await running.stop()
        #expect(stopped == nil, "\(String(describing: stopped))")

        // With the role: the record is older than anything the role sees change, yet reported.
        running = try await RoleTestNode.start(configuration, roles: [HostRole()])
        try await waitUntil("h1's join to be reported", timeout: .seconds(120)) {
            (try? await Self.joined(running, client: client))?.counts == ["h1": 1]
        }
        // The role counts an event once it has appended it and recorded the report, a moment
        // after the event shows in the log.
        try await waitUntil("the reported join to be counted", timeout: .seconds(60)) {
            let metrics = (try? await client.send(HTTPClientRequest(url: running.apiURL + "/metrics")))?.bodyText ?? ""
            return metrics.contains("disco_host_role_events_appended_total 1\n")
        }
        #expect(await running.stop() == nil)

        // Started again: compared with the stored report, nothing new to say.
        let again = HostRole()
        running = try await RoleTestNode.start(configuration, roles: [again])
        try await waitUntil("the role to have compared the members", timeout: .seconds(120)) {
            (try? await running.getJSON("/status", client: client))?["roles"]?["host"]?["members_compared"] == true
        }
        let marker = try #require(try await running.append(#"{"type":"marker","roles":["dns"]}"#, client: client))
        let (counts, last) = try await Self.joined(running, client: client)
        #expect(counts == ["h1": 1] && last == marker)
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    /// A host node created h1's pending report entry, appended h1's join at the address h1 had
    /// then and stopped before recording it; h1 has moved since. The next report's append (same
    /// idempotency key) is answered with that earlier event, so the report recorded must be the
    /// one the log holds, and the move must still be reported: consumers of the log end with
    /// h1's current address.
    @Test func anAppendAnsweredWithAnEarlierHostsEventRecordsThatEventAndReportsWhatChangedSince() async throws {
        let configuration = try RoleTestNode.configuration(id: "h1")
        var running = try await RoleTestNode.start(configuration, roles: [])
        defer { running.removeDirectory() }
        let client = HTTPClient()
        try await waitUntil("h1 to lead and be ready", timeout: .seconds(120)) {
            guard (try? await running.getJSON("/leader", client: client))?["id"] == "h1" else { return false }
            return (try? await client.send(HTTPClientRequest(url: running.apiURL + "/readyz")))?.status == 200
        }
        let pending = try await running.node.transact(KVTransaction(conditions: [.absent(ReportedMember.key("h1"))],
                                                                    operations: [.put(ReportedMember.key("h1"), ReportedMember.pending)]))
        guard case .committed(let revision, _) = pending else { Issue.record("pending entry not created: \(pending)"); return }
        let earlier = #"{"type":"member-joined","roles":["dns"],"member":{"id":"h1","addr":"10.9.9.9:4002","api_addr":"10.9.9.9:4001","roles":[]},"raft_index":2}"#
        var request = HTTPClientRequest(method: "POST", url: running.apiURL + "/events", body: Array(earlier.utf8))
        request.headers.add(name: "Idempotency-Key", value: "host-role-h1-r\(revision)")
        #expect(try await client.send(request).status == 200)
        #expect(await running.stop() == nil)

        running = try await RoleTestNode.start(configuration, roles: [HostRole()])
        let current = configuration.api.bindAddress.description
        try await waitUntil("the log to end with h1 at its current address", timeout: .seconds(120)) {
            let page = try? await running.getJSON("/events?role=dns&since=0&limit=1000", client: client)
            let forH1 = (page?["events"]?.arrayValue ?? []).filter { $0["data"]?["member"]?["id"] == "h1" }
            return forH1.last?["data"]?["member"]?["api_addr"]?.stringValue == current
        }
        // The join is the earlier host node's, taken over under the same key, not a second one.
        let page = try await running.getJSON("/events?role=dns&since=0&limit=1000", client: client)
        let types = (page["events"]?.arrayValue ?? []).filter { $0["data"]?["member"]?["id"] == "h1" }.compactMap { $0["data"]?["type"]?.stringValue }
        #expect(Array(types.prefix(2)) == ["member-joined", "member-address-changed"], "\(types)")
        // The earlier join named h1 without roles: when h1's record gets its roles after the
        // move was reported, that is reported too (and only that).
        #expect(types.dropFirst(2).allSatisfy { $0 == "member-roles-changed" } && types.count <= 3, "\(types)")
        #expect(await running.stop() == nil)
        await client.shutdown()
    }
}
