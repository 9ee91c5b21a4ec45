import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization
import Testing

// MARK: - The hot cut off from the quorum, for real

/// Three `disco-sidecar -hot-cold` processes, each in a network namespace of its own on a
/// private bridge (``PodNetwork``); their services run in the test process on the bridge's host
/// address, which every pod keeps reaching. The nemesis cuts the hot's pod off from the two
/// others with blackhole routes (every packet between them dropped, both ways: Raft, SWIM, the
/// API and the proxies) while the hot and its service keep running, then heals.
@Suite("disco-sidecar -hot-cold: the hot isolated from the quorum", .serialized)
struct HotColdIsolationProcessTests {
    /// One write a writer sent, and what came of it.
    struct Attempt: Sendable {
        let at: ContinuousClock.Instant
        let via: Int
        let status: Int?
        let body: String
    }

    /// The writers' log and their stop switch.
    final class WriterLog: Sendable {
        let attempts = Mutex<[Attempt]>([])
        let writing = Atomic<Bool>(true)
    }

    @Test func anIsolatedHotStopsActingBeforeTheMajorityGrantsAndRejoinsCold() async throws {
        if let reason = await PodNetwork.unavailableReason() {
            print("hot/cold isolation test skipped: \(reason)")
            return
        }
        let network = try await PodNetwork.create()
        var sandboxes: [PodNetwork.Sandbox] = []
        do {
            for index in 0..<3 { sandboxes.append(try await network.addSandbox(label: "hc\(index + 1)")) }
            try await Self.run(network, sandboxes)
        } catch {
            await network.destroy()
            throw error
        }
        await network.destroy()
    }

    private static func run(_ network: PodNetwork, _ sandboxes: [PodNetwork.Sandbox]) async throws {
        try await DiscodCluster.with("sidecar-hot-isolated") { cluster in
            let store = FencedHTTPStore()
            let sidecar = try DiscodProcess.executable("disco-sidecar")
            // Every pod has its own ports; the same numbers on every one.
            let ports: (http: UInt16, raft: UInt16) = (4001, 4002)
            let proxyPort: UInt16 = 8080
            let hosts = sandboxes.map(\.ip)
            let join = hosts.map { "http://\($0):\(ports.http)" }.joined(separator: ",")
            var nodes: [DiscodProcess] = []
            var services: [HTTPServer] = []
            let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), requestTimeout: .seconds(10)))
            defer { for node in nodes { node.process.send(SIGKILL) } }
            for index in 0..<3 {
                let service = try await store.startService(replica: "r\(index + 1)", host: network.gateway)
                services.append(service)
                nodes.append(try DiscodProcess(
                    nodeID: "n\(index + 1)", host: hosts[index], httpPort: ports.http, raftPort: ports.raft,
                    dataDirectory: cluster.dataDirectory(for: "n\(index + 1)"),
                    flags: ["-bootstrap-expect", "3", "-join", join, "-proxy-addr", "\(hosts[index]):\(proxyPort)",
                            "-upstream", "http://\(network.gateway):\(service.localAddress.port)"] + HotColdSidecarProcessTests.leaseFlags,
                    launcher: try PodNetwork.launcher(in: sandboxes[index]) + [sidecar]))
            }
            let group = HotColdSidecarProcessTests.Group(nodes: nodes, services: services, store: store, hosts: hosts,
                                                         proxyPort: proxyPort, client: client)
            do {
                try await isolateTheHot(group, network, sandboxes)
            } catch {
                await client.shutdown()
                await store.stop()
                throw error
            }
            await client.shutdown()
            await store.stop()
        }
    }

    private static func isolateTheHot(_ group: HotColdSidecarProcessTests.Group, _ network: PodNetwork,
                                      _ sandboxes: [PodNetwork.Sandbox]) async throws {
        let nodes = group.nodes
        let first = try await group.waitForHot(among: [0, 1, 2], above: 0)
        try await group.waitForWritesAccepted(through: [0, 1, 2], by: first.index, token: first.token, label: "first")
        let isolated = first.index
        let majority = [0, 1, 2].filter { $0 != isolated }

        // Writers: one write through every sidecar every 20 ms (the nemesis's pacing), recorded.
        let log = WriterLog()
        try await withThrowingTaskGroup(of: Void.self) { writers in
            for via in 0..<3 {
                writers.addTask {
                    var sequence = 0
                    while log.writing.load(ordering: .relaxed) {
                        sequence += 1
                        let answer = await group.write(via: via, "w\(via)-\(sequence)")
                        log.attempts.withLock { $0.append(Attempt(at: .now, via: via, status: answer?.status, body: answer?.bodyText ?? "")) }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
            }

            // The cut: the hot's pod and the two others drop every packet between them.
            let cutAt = ContinuousClock.now
            for other in majority { try await network.partition(sandboxes[isolated], sandboxes[other]) }
            let second = try await group.waitForHot(among: majority, above: first.token)
            #expect(second.index != isolated)
            try await group.waitForWritesAccepted(through: majority, by: second.index, token: second.token, label: "cut")
            // The isolated hot, still running with its service, stopped acting at its renew
            // deadline, before the majority could grant: now that another replica is hot, it says
            // it is not (suspended: still renewing; or already cold).
            let whileCut = try await firstAnswer("GET /hot on the isolated node") { try await nodes[isolated].request("GET", "/hot", timeout: .seconds(10)) }.json
            #expect(["suspended", "cold"].contains(whileCut?["state"]?.stringValue), "\(whileCut?.encoded() ?? "")")
            #expect(whileCut?["node_token"]?.numberValue?.uint64Value == first.token, "\(whileCut?.encoded() ?? "")")
            // Its suspension outlasts the ttl bound plus the election grace: then it becomes cold.
            var isolatedView: JSONValue?
            try await DiscodCluster.waitUntil("the isolated \(nodes[isolated].nodeID) to say it is cold", watching: [nodes[isolated]]) {
                isolatedView = try? await nodes[isolated].request("GET", "/hot", timeout: .seconds(2)).json
                return isolatedView?["state"]?.stringValue == "cold"
            }
            let newHotView = try await firstAnswer("GET /hot on the new hot node") { try await nodes[second.index].request("GET", "/hot") }.json
            #expect(newHotView?["state"]?.stringValue == "hot")
            #expect(isolatedView?["node_token"]?.numberValue?.uint64Value == first.token, "\(isolatedView?.encoded() ?? "")")

            // Healed: the old hot catches up and rejoins cold; writes through it reach the new hot.
            for other in majority { try await network.heal(sandboxes[isolated], sandboxes[other]) }
            try await group.waitForWritesAccepted(through: [0, 1, 2], by: second.index, token: second.token, label: "healed")
            let rejoined = try await firstAnswer("GET /hot on the healed node") { try await nodes[isolated].request("GET", "/hot") }.json
            #expect(rejoined?["state"]?.stringValue == "cold", "\(rejoined?.encoded() ?? "")")
            #expect(rejoined?["hot"]?.stringValue == nodes[second.index].nodeID, "\(rejoined?.encoded() ?? "")")
            log.writing.store(false, ordering: .relaxed)
            try await writers.waitForAll()

            // The availability gap as the store saw it (reported, not asserted): from the cut to
            // the first write accepted with the new token. Answers can reach the client much
            // later: a write the old hot took just before the cut is answered after the heal.
            let accepted = group.store.accepted.filter { $0.at >= cutAt }
            let lastOld = accepted.filter { $0.token == first.token }.map(\.at).max()
            let firstNew = try #require(accepted.filter { $0.token == second.token }.map(\.at).min())
            let lastAnswer = log.attempts.withLock { $0 }.filter { $0.status == 200 && $0.body == "r\(first.index + 1) accepted token=\(first.token)" }
                .map(\.at).max()
            print("hot/cold isolation: \(nodes[isolated].nodeID) (token \(first.token)) cut off; the store accepted its last write "
                  + "\(lastOld.map { "\($0 - cutAt)" } ?? "never") after the cut (the last answer reached its client "
                  + "\(lastAnswer.map { "\($0 - cutAt)" } ?? "never") after it) and the first write of \(nodes[second.index].nodeID) "
                  + "(token \(second.token)) \(firstNew - cutAt) after the cut")
            // The order that counts is the store's (answers can reach a busy client late): every
            // write with the old token was accepted before the first with the new one.
            let order = group.store.accepted.compactMap(\.token)
            let lastOldIndex = try #require(order.lastIndex(of: first.token))
            let firstNewIndex = try #require(order.firstIndex(of: second.token))
            #expect(lastOldIndex < firstNewIndex, "the store accepted token \(first.token) after token \(second.token)")
        }

        // What the store saw: tokens only up, one writer per token, no write without a token.
        #expect(group.store.violations.isEmpty, "\(group.store.violations)")
        let writers = Dictionary(grouping: group.store.accepted, by: { $0.token ?? 0 }).mapValues { Set($0.map(\.replica)) }
        for (token, replicas) in writers { #expect(replicas.count == 1, "token \(token) used by \(replicas)") }
        let tokens = group.store.accepted.compactMap(\.token)
        #expect(tokens == tokens.sorted())
    }
}
