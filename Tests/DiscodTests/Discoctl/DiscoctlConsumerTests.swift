import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization
import Testing

/// `discoctl events -role R -consumer C` against a real `discod` whose retention trims the log.
@Suite struct DiscoctlConsumerTests {
    /// A consumer whose cursor fell behind the retention window got 410 on every run, and
    /// `-since` cannot be combined with `-consumer`: it could never resume. It continues at the
    /// oldest retained event, saying on standard error what was trimmed, as a role does; so
    /// does a consumer that has no cursor.
    @Test func aConsumerBehindTheRetentionWindowContinuesAtTheOldestRetainedEvent() async throws {
        let cluster = try DiscodCluster(name: "ctl-consumer-trimmed")
        defer { Task { await cluster.shutdown() } }
        let node = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: ["-events-retain", "2"])
        try await DiscodCluster.waitForLeader([node])
        try await waitUntil("the cluster to be initialized", timeout: .seconds(30), pollEvery: .milliseconds(50)) {
            (try? await node.status())?["cluster"]?["epoch"]?.isNull == false
        }
        let arguments = ["events", "-role", "dns", "-consumer", "c1", "-format", "jsonl"]
        #expect(try await node.appendEvent(#"{"type":"a","roles":["dns"]}"#) == 1)
        let first = try await Discoctl.run(node, arguments)
        #expect(first.status == 0 && Discoctl.lines(first).count == 1, "\(first)")
        #expect(!first.standardError.contains("no cursor"), "nothing was trimmed: \(first)")

        for n in 2...6 { #expect(try await node.appendEvent(#"{"type":"b","n":\#(n),"roles":["dns"]}"#) == UInt64(n)) }
        try await waitUntil("the leader to trim the log to two events", timeout: .seconds(60)) {
            (try? await node.status())?["events"]?["first_seq"]?.numberValue?.uint64Value == 5
        }
        let resumed = try await Discoctl.run(node, arguments)
        #expect(resumed.status == 0, "\(resumed)")
        #expect(Discoctl.lines(resumed).compactMap { try? JSONValue.parse($0)["seq"]?.numberValue?.uint64Value } == [5, 6], "\(resumed)")
        #expect(resumed.standardError.contains("trimmed"), "\(resumed)")
        let cursor = try await firstAnswer("GET /events/cursor of c1") { try await node.request("GET", "/events/cursor?role=dns&consumer=c1") }
        #expect(cursor.json?["seq"] == 6, "\(cursor.text)")
        // A consumer without a cursor (a new one, or one whose cursor the leader deleted) starts
        // at the oldest retained event too, and says which events before it were trimmed.
        let fresh = try await Discoctl.run(node, ["events", "-role", "dns", "-consumer", "c2", "-format", "jsonl"])
        #expect(Discoctl.lines(fresh).compactMap { try? JSONValue.parse($0)["seq"]?.numberValue?.uint64Value } == [5, 6], "\(fresh)")
        #expect(fresh.standardError.contains("c2 has no cursor for dns"), "\(fresh)")
        #expect(fresh.standardError.contains("events 1...4 were trimmed"), "\(fresh)")

        // -format json acknowledges once the array is printed.
        #expect(try await node.appendEvent(#"{"type":"c","roles":["dns"]}"#) == 7)
        let json = try await Discoctl.run(node, ["events", "-role", "dns", "-consumer", "c1", "-format", "json"])
        #expect(Discoctl.json(json)?.arrayValue?.compactMap { $0["seq"]?.numberValue?.uint64Value } == [7], "\(json)")
        let acknowledged = try await firstAnswer("GET /events/cursor of c1") { try await node.request("GET", "/events/cursor?role=dns&consumer=c1") }
        #expect(acknowledged.json?["seq"] == 7, "\(acknowledged.text)")
    }

    /// With `-format json` the events are printed as one array at the end, but each page was
    /// acknowledged as it arrived: a run that failed (or was interrupted) on a later page
    /// printed nothing, yet had moved the cursor past the first page, whose events the consumer
    /// then never saw. A node that serves one page and then fails shows it.
    @Test func withFormatJSONNothingIsAcknowledgedBeforeItIsPrinted() async throws {
        let acks = Mutex<[String]>([])
        let server = try await HTTPServer.start { request in
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            let body: String
            var status = 200
            if request.path == "/events/cursor" {
                body = #"{"role":"dns","consumer":"c1","seq":0}"#
            } else if request.path == "/events/ack" {
                acks.withLock { $0.append(String(decoding: request.body, as: UTF8.self)) }
                body = #"{"role":"dns","consumer":"c1","seq":1}"#
            } else if request.path == "/events", request.query?.contains("since=0&") == true {
                body = #"{"role":"dns","events":[{"seq":1,"index":9,"time_ms":0,"data":{"type":"a","roles":["dns"]}}],"first_seq":1,"last_seq":5,"next_since":1}"#
            } else {
                status = 503
                body = #"{"error":"no leader yet; retry"}"#
            }
            return HTTPResponse(status: status, headers: headers, bytes: Array(body.utf8))
        }
        defer { Task { await server.shutdown(gracePeriod: .zero) } }
        let outcome = try await Discoctl.run(["events", "-role", "dns", "-consumer", "c1", "-format", "json",
                                              "-addr", "127.0.0.1:\(server.localAddress.port)"])
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.standardOutput.isEmpty, "\(outcome)")
        #expect(acks.withLock { $0 }.isEmpty, "acknowledged what it never printed: \(acks.withLock { $0 })")
    }

    /// An acknowledgement the cluster cannot store for a moment (an election: 503 "no leader")
    /// is sent again. Before, `discoctl events -consumer` (and `-follow`) exited 1 on the first
    /// 503, leaving what it had printed unacknowledged, to be printed again by the next run.
    @Test func anAcknowledgementRefusedDuringAnElectionIsSentAgain() async throws {
        let acks = Mutex(0)
        let server = try await HTTPServer.start { request in
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            var (status, body) = (200, "")
            if request.path == "/events/cursor" {
                body = #"{"role":"dns","consumer":"c1","seq":0}"#
            } else if request.path == "/events/ack" {
                let attempt = acks.withLock { count -> Int in count += 1; return count }
                (status, body) = attempt < 3 ? (503, #"{"error":"no leader yet; retry"}"#) : (200, #"{"role":"dns","consumer":"c1","seq":1}"#)
            } else {
                body = #"{"role":"dns","events":[{"seq":1,"index":9,"time_ms":0,"data":{"type":"a","roles":["dns"]}}],"first_seq":1,"last_seq":1,"next_since":1}"#
            }
            return HTTPResponse(status: status, headers: headers, bytes: Array(body.utf8))
        }
        defer { Task { await server.shutdown(gracePeriod: .zero) } }
        let outcome = try await Discoctl.run(["events", "-role", "dns", "-consumer", "c1", "-format", "jsonl", "-timeout", "30s",
                                              "-addr", "127.0.0.1:\(server.localAddress.port)"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(Discoctl.lines(outcome).count == 1, "\(outcome)")
        #expect(acks.withLock { $0 } == 3)
    }

    /// `discoctl` ignores SIGPIPE (its sockets need that), so a write to a standard output that
    /// is gone (a reader that exited, a full disk) failed silently: a consumer run printed
    /// nothing, yet acknowledged every page and exited 0, and its events were lost to the
    /// consumer. A failed write ends the run with exit 1 before anything is acknowledged.
    @Test(arguments: ["text", "jsonl", "json"]) func nothingIsAcknowledgedWhenStandardOutputCannotBeWritten(format: String) async throws {
        let cluster = try DiscodCluster(name: "ctl-consumer-stdout")
        defer { Task { await cluster.shutdown() } }
        let node = try await Discoctl.startSingleNode(cluster)
        for n in 1...3 { #expect(try await node.appendEvent(#"{"type":"a","n":\#(n),"roles":["dns"]}"#) == UInt64(n)) }
        let discoctl = try ExecutableRunner.productsDirectory().appending(path: "discoctl").path
        let outcome = try await Command.run("/bin/sh", ["-c", #"exec "$0" "$@" >/dev/full"#, discoctl, "-addr", "127.0.0.1:\(node.httpPort)",
                                                         "events", "-role", "dns", "-consumer", "c1", "-format", format], timeout: .seconds(120))
        #expect(outcome.status == 1, "\(outcome.status) \(outcome.standardError)")
        #expect(outcome.standardError.contains("standard output"), "\(outcome.standardError)")
        let cursor = try await firstAnswer("GET /events/cursor of c1") { try await node.request("GET", "/events/cursor?role=dns&consumer=c1") }
        #expect(cursor.json?["seq"] == 0, "acknowledged events it could not print: \(cursor.text)")
    }

    /// With nothing new for a consumer, the text run said "(no events after #0)" whatever the
    /// consumer's cursor was: it named -since, which -consumer does not use. It names where the
    /// consumer started.
    @Test func aConsumerWithNothingNewIsToldItsOwnCursor() async throws {
        let cluster = try DiscodCluster(name: "ctl-consumer-nothing-new")
        defer { Task { await cluster.shutdown() } }
        let node = try await Discoctl.startSingleNode(cluster)
        for n in 1...2 { #expect(try await node.appendEvent(#"{"type":"a","n":\#(n),"roles":["dns"]}"#) == UInt64(n)) }
        let first = try await Discoctl.run(node, ["events", "-role", "dns", "-consumer", "c1"])
        #expect(first.status == 0 && Discoctl.lines(first).count == 2, "\(first)")
        let again = try await Discoctl.run(node, ["events", "-role", "dns", "-consumer", "c1"])
        #expect(again.status == 0 && again.standardOutput.isEmpty, "\(again)")
        #expect(again.standardError.contains("(no events after #2)"), "\(again)")
    }

    /// A -consumer name the node cannot use is bad usage, like a bad -role: exit 2 naming the
    /// flag, not exit 1 with the node's refusal of a query.
    @Test func aBadConsumerNameIsAUsageError() async throws {
        let refusing = try FreePort.Refusing()
        for name in ["a/b", String(repeating: "c", count: 129), "has space"] {
            let outcome = try await Discoctl.run(["events", "-role", "dns", "-consumer", name, "-addr", "127.0.0.1:\(refusing.port)"])
            #expect(outcome.status == 2, "\(name): \(outcome)")
            #expect(outcome.standardError.contains("-consumer"), "\(name): \(outcome)")
        }
    }

    /// An empty -role or -consumer (a script's unset variable) is bad usage naming the flag, not
    /// a silent read of every event or member without a role, or of the role without a cursor.
    @Test func anEmptyRoleOrConsumerIsAUsageError() async throws {
        let refusing = try FreePort.Refusing()
        let address = "127.0.0.1:\(refusing.port)"
        let cases: [(arguments: [String], flag: String)] = [
            (["events", "-role", ""], "-role"), (["events", "-role=", "-limit", "1"], "-role"),
            (["nodes", "-role", ""], "-role"), (["events", "-role", "dns", "-consumer", ""], "-consumer"),
        ]
        for (arguments, flag) in cases {
            let outcome = try await Discoctl.run(arguments + ["-addr", address])
            #expect(outcome.status == 2, "\(arguments): \(outcome)")
            #expect(outcome.standardError.contains("\(flag): "), "\(arguments): \(outcome)")
        }
    }
}
