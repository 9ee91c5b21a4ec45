import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization
import Testing

// MARK: - -consensus etcd: the intent recorded before a bootstrap or join

extension NodeProcessTests {
    /// etcd may accept a node's bootstrap or join before the node hears so. The node records the
    /// intent (`etcd-member.json`, `"state":"joining"`) before it asks, so a crash in between
    /// leaves a node that, started while etcd is down, waits for etcd like a member instead of
    /// giving up after `-bootstrap-expect-timeout`; once etcd answers, the record is set right.
    @Suite struct EtcdJoiningIntent {
        /// Node 2 joins node 1 through a relay that passes the join on and holds back node 1's
        /// 200 (etcd has the learner): node 2 is killed there, before it heard. Started again
        /// with etcd down and a 2 s timeout, it waits well past it, then comes back as a member
        /// once etcd is up, and its record becomes a member's.
        @Test func aNodeKilledAfterEtcdAcceptedItsJoinWaitsForEtcd() async throws {
            try await DiscodCluster.with("etcd-intent-join", engine: .etcd) { cluster in
                let etcd = try #require(cluster.etcd)
                let first = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: [])
                try await DiscodCluster.waitForLeader([first])
                let relay = try await AnswerRelay.start(to: first, holding: "/join")
                let second = try cluster.start(id: "2", ports: try DiscodCluster.ports(),
                                               flags: ["-join", "http://127.0.0.1:\(relay.server.localAddress.port)", "-join-attempts", "1000"])
                try await NodeTests.eventually("node 1 to accept node 2's join", [first, second]) { relay.accepted }
                await second.kill()
                await relay.stop()
                #expect(Self.record(in: second)?["state"]?.stringValue == "joining", "\(second.process.output)")

                #expect(await first.terminate() == 0)
                await etcd.stopMember(0)
                let again = try cluster.restart(second, flags: ["-join", first.apiURL, "-bootstrap-expect-timeout", "2s"])
                let waiting = try await EtcdUnreachableAtStart.waitingStatus(of: again, failedReads: 1)
                let detail = waiting["bootstrap"]?["detail"]?.stringValue ?? ""
                #expect(detail.contains("it may be a member, so it waits as long as it takes"), "\(detail)")
                #expect(waiting["consensus"]?["membership_record"]?.stringValue == "joining", "\(waiting.encoded())")
                // Reads are retried 200 ms apart: 20 more failed ones take at least 3.8 s, past the 2 s timeout.
                let seen = waiting["consensus"]?["failed_reads"]?.numberValue?.intValue ?? 0
                _ = try await EtcdUnreachableAtStart.waitingStatus(of: again, failedReads: seen + 20)
                #expect(again.process.isRunning)

                try await etcd.restartMember(0)
                let restarted = try cluster.restart(first, flags: [])
                try await NodeTests.eventually("node 2 to be a member again", [restarted, again]) {
                    (await again.memberIDs() ?? []).contains("2") && Self.record(in: again)?["state"]?.stringValue == "member"
                }
            }
        }

        /// A data directory holding only an intent (as a crash right after the join would leave
        /// it) and etcd down: the node waits past its 2 s timeout, forms once etcd is up (etcd
        /// never heard of it: a first start) and records itself a member.
        @Test func aDataDirectoryHoldingOnlyAnIntentWaitsForEtcdAndThenForms() async throws {
            try await DiscodCluster.with("etcd-intent-only", engine: .etcd) { cluster in
                let etcd = try #require(cluster.etcd)
                let key = "/disco-\(cluster.root.suffix(8))/"
                let directory = cluster.dataDirectory(for: "1")
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let intent = #"{"state":"joining","key":"\#(key)","endpoints":["\#(etcd.endpoints[0])"],"cluster":"disco","recorded_ms":1}"#
                try Data((intent + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/etcd-member.json"))
                await etcd.stopMember(0)

                let node = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: ["-bootstrap-expect-timeout", "2s"])
                let waiting = try await EtcdUnreachableAtStart.waitingStatus(of: node, failedReads: 1)
                #expect(waiting["consensus"]?["member_recorded"]?.boolValue == false, "\(waiting.encoded())")
                #expect(waiting["consensus"]?["membership_record"]?.stringValue == "joining", "\(waiting.encoded())")
                let seen = waiting["consensus"]?["failed_reads"]?.numberValue?.intValue ?? 0
                _ = try await EtcdUnreachableAtStart.waitingStatus(of: node, failedReads: seen + 20)
                #expect(node.process.isRunning)

                try await etcd.restartMember(0)
                #expect(try await DiscodCluster.waitForLeader([node]) == "1")
                try await NodeTests.eventually("node 1 to record itself a member", [node]) {
                    Self.record(in: node)?["state"]?.stringValue == "member"
                }
                #expect(Self.record(in: node)?["key"]?.stringValue == key)
                #expect(node.process.output.contains("recorded a bootstrap or join that did not complete"), "\(node.process.output)")
            }
        }

        /// A member formed through `-bootstrap-expect` by a version that wrote no
        /// `etcd-member.json`: its data directory still holds the promise to the proposal that
        /// created the cluster. Started with etcd down and a 2 s timeout, it waits past it
        /// (the cluster may hold it), and rejoins with its events once etcd is back.
        @Test func aPreRecordMemberFormedWithBootstrapExpectWaitsForEtcd() async throws {
            try await DiscodCluster.with("etcd-pre-record", engine: .etcd) { cluster in
                let etcd = try #require(cluster.etcd)
                let ports = try DiscodCluster.ports()
                let first = try cluster.start(id: "1", ports: ports, flags: ["-bootstrap-expect", "1", "-join", "http://127.0.0.1:\(ports.http)"])
                try await DiscodCluster.waitForLeader([first])
                _ = try await NodeTests.append(#"{"test":"etcd-pre-record"}"#, via: first)
                #expect(await first.terminate() == 0)
                #expect(FileManager.default.fileExists(atPath: first.dataDirectory + "/bootstrap-promise.json"))
                // What the data directory looked like before etcd-member.json existed.
                try FileManager.default.removeItem(atPath: first.dataDirectory + "/etcd-member.json")
                await etcd.stopMember(0)

                let node = try cluster.restart(first, flags: ["-bootstrap-expect", "1", "-join", "http://127.0.0.1:\(ports.http)",
                                                               "-bootstrap-expect-timeout", "2s"])
                let waiting = try await EtcdUnreachableAtStart.waitingStatus(of: node, failedReads: 1)
                let detail = waiting["bootstrap"]?["detail"]?.stringValue ?? ""
                #expect(detail.contains("-bootstrap-expect promise"), "\(detail)")
                #expect(detail.contains("waits as long as it takes"), "\(detail)")
                let seen = waiting["consensus"]?["failed_reads"]?.numberValue?.intValue ?? 0
                _ = try await EtcdUnreachableAtStart.waitingStatus(of: node, failedReads: seen + 20)
                #expect(node.process.isRunning)

                try await etcd.restartMember(0)
                #expect(try await DiscodCluster.waitForLeader([node]) == "1")
                #expect(try await node.eventData() == [#"{"test":"etcd-pre-record"}"#])
                try await NodeTests.eventually("node 1 to record itself a member", [node]) {
                    Self.record(in: node)?["state"]?.stringValue == "member"
                }
            }
        }

        /// A first start whose join fails (nothing answers at -join) while etcd is up: etcd says
        /// the node is no member, so the intent goes and the next start is a first start again.
        @Test func aFailedJoinWithEtcdUpLeavesNoRecord() async throws {
            try await DiscodCluster.with("etcd-intent-failed", engine: .etcd) { cluster in
                let nowhere = "http://127.0.0.1:\(try FreePort.loopback())"
                let node = try cluster.start(id: "1", ports: try DiscodCluster.ports(),
                                             flags: ["-join", nowhere, "-join-attempts", "1", "-join-interval", "100ms"])
                #expect(try await node.process.waitForExit(timeout: .seconds(90)) == 1, "\(node.process.output)")
                #expect(!FileManager.default.fileExists(atPath: node.dataDirectory + "/etcd-member.json"), "\(node.process.output)")
            }
        }

        /// The node's `etcd-member.json`, nil while there is none (or it cannot be parsed).
        static func record(in node: DiscodProcess) -> JSONValue? {
            FileManager.default.contents(atPath: node.dataDirectory + "/etcd-member.json").flatMap { try? JSONValue.parse(Array($0)) }
        }
    }
}

// MARK: - AnswerRelay

/// Passes every request on to a node and holds back its 200 answers to requests under one path
/// (`POST /join`, `POST /bootstrap/propose`) until stopped: the sender never hears that it was
/// accepted. ``accepted`` turns true once the node answered such a request with 200. It can
/// start before the node it relays to (``forward(to:)``), so that node can advertise it.
final class AnswerRelay: Sendable {
    /// What the relay's handlers share: the node relayed to, whether a held request was
    /// accepted, and the answers held back.
    final class Held: Sendable {
        let state = Mutex<(accepted: Bool, waiting: [CheckedContinuation<Void, Never>], stopped: Bool)>((false, [], false))
        let target = Mutex<DiscodProcess?>(nil)

        /// Suspends until ``AnswerRelay/stop()``.
        func hold() async {
            await withCheckedContinuation { continuation in
                let resume = state.withLock { state -> Bool in
                    if state.stopped { return true }
                    state.waiting.append(continuation)
                    return false
                }
                if resume { continuation.resume() }
            }
        }
    }

    let server: HTTPServer
    private let held: Held

    private init(server: HTTPServer, held: Held) {
        self.server = server
        self.held = held
    }

    var accepted: Bool { held.state.withLock { $0.accepted } }

    /// `127.0.0.1:<port>` of the relay.
    var address: String { "127.0.0.1:\(server.localAddress.port)" }

    /// A relay to `node` holding its 200 answers to requests under `prefix`.
    static func start(to node: DiscodProcess, holding prefix: String) async throws -> AnswerRelay {
        let relay = try await start(holding: prefix)
        relay.forward(to: node)
        return relay
    }

    /// A relay holding 200 answers to requests under `prefix`; it answers 502 until ``forward(to:)``.
    static func start(holding prefix: String) async throws -> AnswerRelay {
        let held = Held()
        let server = try await HTTPServer.start { request in
            guard let node = held.target.withLock({ $0 }),
                  let answer = try? await node.request(request.method, request.target, body: String(decoding: request.body, as: UTF8.self)) else {
                return HTTPResponse(status: 502, headers: HTTPHeaders(), bytes: [])
            }
            if request.target.hasPrefix(prefix), answer.status == 200 {
                held.state.withLock { $0.accepted = true }
                await held.hold()
                return HTTPResponse(status: 503, headers: HTTPHeaders(), bytes: [])
            }
            return HTTPResponse(status: answer.status, headers: HTTPHeaders(), bytes: answer.body)
        }
        return AnswerRelay(server: server, held: held)
    }

    /// Relays from now on to `node`.
    func forward(to node: DiscodProcess) {
        held.target.withLock { $0 = node }
    }

    /// Releases every held answer (as 503s) and stops the server.
    func stop() async {
        let waiting = held.state.withLock { state in
            state.stopped = true
            defer { state.waiting = [] }
            return state.waiting
        }
        waiting.forEach { $0.resume() }
        await server.shutdown(gracePeriod: .zero)
    }
}
