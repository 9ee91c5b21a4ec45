import DiscoCore
import DiscoTestKit
import Foundation
import Testing

extension PodHarnessScenarios {
    /// k8s/disco run as pods: network namespaces with their own IPs on a bridge, cluster DNS
    /// answering the headless Service like kube-dns, the StatefulSet's command line exactly as
    /// written with the downward API filled in, probes run like the kubelet, and the StatefulSet
    /// controller's moves (parallel start, rolling update, scaling, deleting every pod).
    @Suite(.serialized) struct DiscoStatefulSetTests {
        static let three = ["disco-0", "disco-1", "disco-2"]

        @Test func allPodsAtOnceFormOneCluster() async throws {
            try await DiscoPods.with { harness, statefulSet in
                #expect(statefulSet.podManagementPolicy == .parallel)
                let pods = try await harness.apply(statefulSet)
                try await harness.waitUntilReady(pods)
                let view = try await DiscoPods.waitForOneCluster(harness, voters: Self.three)
                #expect(Self.three.contains(view.leader))
                #expect(try harness.endpoints(of: "disco").count == 3)
                #expect(harness.pods.allSatisfy { $0.totalRestarts == 0 }, "a container restarted:\n\(harness.describe())")
            }
        }

        /// The same manifests on an IPv6-only cluster (pod IPs like fd00:d15c:7::a, cluster DNS
        /// answering AAAA and SRV): the command lines as written form one cluster, each node
        /// advertising `[$(POD_IP)]:4001` and listening on every interface.
        @Test func allPodsOfAnIPv6OnlyClusterFormOneCluster() async throws {
            try await DiscoPods.with(family: .ipv6) { harness, statefulSet in
                let pods = try await harness.apply(statefulSet)
                #expect(pods.allSatisfy { $0.ip.contains(":") }, "\(pods.map(\.ip))")
                try await harness.waitUntilReady(pods)
                let view = try await DiscoPods.waitForOneCluster(harness, voters: Self.three)
                #expect(Self.three.contains(view.leader))
                for pod in harness.pods {
                    // One request can miss its 3 s on a loaded machine: ask again until it answers.
                    var addresses: [String]?
                    do {
                        try await waitUntil("\(pod.name)'s /nodes to list three [fd00:…] addresses", timeout: .seconds(60)) {
                            addresses = await DiscoPods.get(pod, "/nodes")?.arrayValue.map { $0.compactMap { $0["addr"]?.stringValue } }
                            return addresses.map { $0.count == 3 && $0.allSatisfy { $0.hasPrefix("[fd00:") } } ?? false
                        }
                    } catch is WaitTimeout {
                        Issue.record("\(pod.name): \(addresses.map { "\($0)" } ?? "no answer to GET /nodes")")
                    }
                }
                #expect(harness.pods.allSatisfy { $0.totalRestarts == 0 }, "a container restarted:\n\(harness.describe())")
            }
        }

        /// A rolling update while a client writes through the Service: every pod comes back on a
        /// new IP, the old ones exit 0 within their grace period, nothing acknowledged is lost, and
        /// every write that failed succeeded on one retry to the leader, or on the next ones only
        /// when the node answered that a leadership handover got in the way (see ``ServiceWriter``).
        @Test func rollingRestartWithNewIPsLosesNoAcknowledgedWrite() async throws {
            try await DiscoPods.with { harness, statefulSet in
                try await harness.waitUntilReady(try await harness.apply(statefulSet))
                let before = try await DiscoPods.waitForOneCluster(harness, voters: Self.three)
                let oldIPs = Set(harness.pods.map(\.ip))

                let writer = ServiceWriter(harness: harness)
                let writing = Task { await writer.writeUntilStopped() }
                try await waitUntil("the first acknowledged writes") { writer.record.acknowledged.count >= 20 }
                let ended: [String: [HarnessPod.Termination]]
                do {
                    ended = try await harness.rollingRestart(statefulSet) { _ in
                        let count = writer.record.acknowledged.count
                        try await waitUntil("writes to go on after a pod came back") { writer.record.acknowledged.count > count + 20 }
                    }
                } catch {
                    writer.stop()
                    await writing.value
                    throw error
                }
                writer.stop()
                await writing.value

                for (pod, terminations) in ended {
                    for ending in terminations {
                        #expect(ending.status == 0 && !ending.killed, "\(pod) \(ending)")
                    }
                }
                #expect(oldIPs.isDisjoint(with: harness.pods.map(\.ip)), "every pod should have come back with a new IP")
                let after = try await DiscoPods.waitForOneCluster(harness, voters: Self.three)
                #expect(after.epoch == before.epoch, "the same cluster, not a new one")
                #expect(harness.pods.allSatisfy { $0.totalRestarts == 0 }, "a container restarted:\n\(harness.describe())")

                let record = writer.record
                #expect(record.failed.isEmpty, "writes that failed every retry: \(record.failed)")
                #expect(record.unexplainedRetryFailures.isEmpty, "retries that failed without a reported handover: \(record.unexplainedRetryFailures)")
                let logged = try await writer.numbersInLog(from: harness.pods[0])
                let counts = Dictionary(logged.map { ($0, 1) }, uniquingKeysWith: +)
                let lost = record.acknowledged.filter { counts[$0] == nil }
                #expect(lost.isEmpty, "acknowledged but not in the log: \(lost)")
                // Every attempt of a write carries the same Idempotency-Key, so a retried write whose
                // first attempt committed after all (its answer lost) is still in the log once.
                let duplicated = counts.filter { $0.value > 1 }.map(\.key)
                #expect(duplicated.isEmpty, "in the log more than once despite their idempotency keys: \(duplicated)")
                print("rolling restart: \(record.acknowledged.count) writes acknowledged, \(record.retried.count) retried")
            }
        }

        /// Scaling out joins new pods to the running cluster; scaling in and removing the departed
        /// nodes (as the README says, with discoctl in a pod) leaves three voters; growing again
        /// starts a fresh pod (its claim went with the scale-in) that joins as well.
        @Test func scaleThreeToFiveToThree() async throws {
            try await DiscoPods.with { harness, statefulSet in
                try await harness.waitUntilReady(try await harness.apply(statefulSet))
                let formed = try await DiscoPods.waitForOneCluster(harness, voters: Self.three)

                try await harness.waitUntilReady(try await harness.scale(statefulSet, to: 5))
                let five = Self.three + ["disco-3", "disco-4"]
                #expect(try await DiscoPods.waitForOneCluster(harness, voters: five).epoch == formed.epoch)

                try await harness.scale(statefulSet, to: 3)
                for departed in ["disco-4", "disco-3"] {
                    let removal = try await harness.exec("disco-0", ["discoctl", "remove", departed])
                    #expect(removal.succeeded, "discoctl remove \(departed): \(removal.standardError)")
                    #expect(removal.standardOutput.contains("removed node \(departed)"))
                }
                #expect(try await DiscoPods.waitForOneCluster(harness, voters: Self.three).epoch == formed.epoch)
                let writer = ServiceWriter(harness: harness)
                let writing = Task { await writer.writeUntilStopped() }
                try? await waitUntil("writes after scaling in") { writer.record.acknowledged.count >= 10 || !writer.record.failed.isEmpty }
                writer.stop()
                await writing.value
                #expect(writer.record.failed.isEmpty && writer.record.acknowledged.count >= 10, "\(writer.record.failed)")

                try await harness.waitUntilReady(try await harness.scale(statefulSet, to: 4))
                #expect(try await DiscoPods.waitForOneCluster(harness, voters: Self.three + ["disco-3"]).epoch == formed.epoch)
                #expect(harness.pods.allSatisfy { $0.totalRestarts == 0 }, "a container restarted:\n\(harness.describe())")
            }
        }

        /// Every pod deleted at once (`kubectl delete pod -l ...`, gracefully or forced) and created
        /// again by the StatefulSet with new IPs: the same cluster re-forms with its data.
        @Test(arguments: [false, true])
        func allPodsDeletedComeBackOnNewIPsAsTheSameCluster(forced: Bool) async throws {
            try await DiscoPods.with { harness, statefulSet in
                try await harness.waitUntilReady(try await harness.apply(statefulSet))
                let before = try await DiscoPods.waitForOneCluster(harness, voters: Self.three)
                let writer = ServiceWriter(harness: harness)
                let writing = Task { await writer.writeUntilStopped() }
                try? await waitUntil("writes before the deletion") { writer.record.acknowledged.count >= 50 || !writer.record.failed.isEmpty }
                writer.stop()
                await writing.value
                #expect(writer.record.failed.isEmpty)
                let oldIPs = Set(harness.pods.map(\.ip))

                if forced {
                    for pod in harness.pods { await harness.deletePod(pod.name, grace: .zero) }
                } else {
                    let ended = await harness.deletePods(harness.pods.map(\.name))
                    #expect(ended.values.joined().allSatisfy { $0.status == 0 && !$0.killed }, "\(ended)")
                }
                #expect(harness.pods.isEmpty)
                let recreated = try await harness.apply(statefulSet)
                #expect(oldIPs.isDisjoint(with: recreated.map(\.ip)))
                try await harness.waitUntilReady(recreated)
                let after = try await DiscoPods.waitForOneCluster(harness, voters: Self.three)
                #expect(after.epoch == before.epoch, "the same cluster, not a new one")
                let logged = Set(try await writer.numbersInLog(from: recreated[0]))
                let lost = writer.record.acknowledged.filter { !logged.contains($0) }
                #expect(lost.isEmpty, "acknowledged before the deletion but gone: \(lost)")
                #expect(harness.pods.allSatisfy { $0.totalRestarts == 0 }, "a container restarted:\n\(harness.describe())")
            }
        }
    }
}
