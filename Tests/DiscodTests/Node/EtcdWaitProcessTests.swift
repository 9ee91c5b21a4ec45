import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - -consensus etcd started while etcd cannot be reached

extension NodeProcessTests {
    /// Whether a node belongs to a cluster lives in etcd, so a node started while etcd is
    /// unreachable waits for it. A first start (nothing in the data directory says the node ever
    /// was part of a cluster) gives up after `-bootstrap-expect-timeout` like a formation that
    /// timed out; a member started again waits as long as it takes, and says why on `/status`
    /// and `/readyz`.
    @Suite struct EtcdUnreachableAtStart {
        /// Nothing listens at the etcd endpoint: the first start exits 1 after the 3 s timeout,
        /// its standard error naming the endpoint, the timeout and the last error.
        @Test func aFirstStartGivesUpAfterTheBootstrapExpectTimeout() async throws {
            let directory = try ExecutableRunner.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let endpoint = "http://127.0.0.1:\(try FreePort.loopback())"
            let ports = try DiscodCluster.ports()
            // The runner's own deadline (120 s, then it kills the process and fails) is the generous one.
            let outcome = try await ExecutableRunner.run("discod", [
                "-node-id", "1", "-http-addr=127.0.0.1:\(ports.http)", "-raft-addr=127.0.0.1:\(ports.raft)",
                "-consensus", "etcd", "-consensus-config", #"{"endpoints":["\#(endpoint)"]}"#, "-bootstrap-expect-timeout", "3s", "data",
            ], in: directory)
            #expect(outcome.status == 1, "\(outcome.standardError)")
            let failure = outcome.standardError.split(separator: "\n").last { $0.contains("no cluster formed") }.map(String.init) ?? ""
            #expect(failure.contains("no cluster formed or joined within -bootstrap-expect-timeout"), "\(outcome.standardError)")
            // The limit as the flag was written, not as Swift prints a Duration ("3.0 seconds").
            #expect(failure.contains("-bootstrap-expect-timeout 3s:"), "\(outcome.standardError)")
            #expect(failure.contains("could not read etcd at \(endpoint)"), "\(outcome.standardError)")
            #expect(failure.contains("last error: etcd \(endpoint)"), "\(outcome.standardError)")
            #expect(!FileManager.default.fileExists(atPath: directory.appending(path: "data/etcd-member.json").path))
        }

        /// etcd comes up while a first start waits for it (well within its timeout): the node
        /// said on `/status` and `/readyz` what it waited for, and then forms as usual and
        /// records that it is a member.
        @Test func aFirstStartFormsWhenEtcdComesUpWithinTheTimeout() async throws {
            try await DiscodCluster.with("etcd-late", engine: .etcd) { cluster in
                let etcd = try #require(cluster.etcd)
                let endpoint = etcd.endpoints[0]
                await etcd.stopMember(0)
                let node = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: ["-bootstrap-expect-timeout", "60s"])
                let waiting = try await Self.waitingStatus(of: node, failedReads: 1)
                #expect(waiting["consensus"]?["member_recorded"]?.boolValue == false, "\(waiting.encoded())")
                let detail = waiting["bootstrap"]?["detail"]?.stringValue ?? ""
                #expect(detail.contains("a first start: it gives up after -bootstrap-expect-timeout"), "\(detail)")
                try await Self.expectNotReadyNaming(endpoint, node)

                try await etcd.restartMember(0)
                #expect(try await DiscodCluster.waitForLeader([node]) == "1")
                let status = try await node.status()
                #expect(status["consensus"]?["state_known"]?.boolValue == true, "\(status.encoded())")
                #expect(status["consensus"]?["member_recorded"]?.boolValue == true, "\(status.encoded())")
                #expect(FileManager.default.fileExists(atPath: node.dataDirectory + "/etcd-member.json"))
            }
        }

        /// A node that formed is restarted with a 2 s timeout while etcd is down: it waits (and
        /// retries) well past the timeout, saying so on `/status` and `/readyz`, and rejoins its
        /// cluster with its events once etcd is back.
        @Test func aRestartedMemberWaitsForEtcdPastTheTimeout() async throws {
            try await DiscodCluster.with("etcd-member-waits", engine: .etcd) { cluster in
                let etcd = try #require(cluster.etcd)
                let endpoint = etcd.endpoints[0]
                let first = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: [])
                try await DiscodCluster.waitForLeader([first])
                _ = try await NodeTests.append(#"{"test":"etcd-member-waits"}"#, via: first)
                #expect(await first.terminate() == 0)
                await etcd.stopMember(0)

                let node = try cluster.restart(first, flags: ["-bootstrap-expect-timeout", "2s"])
                let waiting = try await Self.waitingStatus(of: node, failedReads: 1)
                #expect(waiting["consensus"]?["member_recorded"]?.boolValue == true, "\(waiting.encoded())")
                let detail = waiting["bootstrap"]?["detail"]?.stringValue ?? ""
                #expect(detail.contains("waits as long as it takes"), "\(detail)")
                try await Self.expectNotReadyNaming(endpoint, node)
                // Reads are retried 200 ms apart: 20 more failed ones than when the wait was
                // first seen take at least 3.8 s, past the 2 s timeout. The wait fails if the node exits.
                let seen = waiting["consensus"]?["failed_reads"]?.numberValue?.intValue ?? 0
                _ = try await Self.waitingStatus(of: node, failedReads: seen + 20)
                #expect(node.process.isRunning)

                try await etcd.restartMember(0)
                #expect(try await DiscodCluster.waitForLeader([node]) == "1")
                #expect(try await node.eventData() == [#"{"test":"etcd-member-waits"}"#])
            }
        }

        /// Polls `/status` until it shows the node waiting for etcd after at least `failedReads`
        /// failed reads; fails at once if the node exits.
        static func waitingStatus(of node: DiscodProcess, failedReads: Int) async throws -> JSONValue {
            var found: JSONValue = .null
            try await NodeTests.eventually("node \(node.nodeID) to wait for etcd after \(failedReads) failed reads", [node], timeout: .seconds(90)) {
                guard let status = try? await node.status() else { return false }
                found = status
                let detail = status["bootstrap"]?["detail"]?.stringValue ?? ""
                return status["bootstrap"]?["state"]?.stringValue == "starting" && detail.contains("waiting for etcd at")
                    && status["consensus"]?["state_known"]?.boolValue == false
                    && (status["consensus"]?["failed_reads"]?.numberValue?.intValue ?? 0) >= failedReads
            }
            return found
        }

        /// `/readyz` answers 503 saying the node waits for etcd at `endpoint`, with the last error.
        static func expectNotReadyNaming(_ endpoint: String, _ node: DiscodProcess) async throws {
            let answer = try await firstAnswer("GET /readyz on node \(node.nodeID)") { try await node.request("GET", "/readyz") }
            #expect(answer.status == 503, "\(answer.text)")
            #expect(answer.text.contains("waiting for etcd at \(endpoint)"), "\(answer.text)")
            #expect(answer.text.contains("last error: etcd \(endpoint)"), "\(answer.text)")
        }
    }
}
