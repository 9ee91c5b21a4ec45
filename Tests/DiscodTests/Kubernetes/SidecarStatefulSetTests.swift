import DiscoCore
import DiscoTestKit
import Foundation
import Testing

extension PodHarnessScenarios {
    /// k8s/sidecar run as pods: disco-sidecar as a native sidecar in front of the stand-in
    /// application, HTTPS and API keys from Secrets mounted as the kubelet mounts them, the readiness
    /// probe over HTTPS on the proxy port, clients going through the `app` Service's endpoints.
    @Suite(.serialized) struct SidecarStatefulSetTests {
        static let three = ["app-0", "app-1", "app-2"]

        /// All pods start at once and form one cluster; through every endpoint of the Service, reads
        /// are answered by that pod's application and writes (with an API key) by the writer's: the
        /// hot replica's (`-hot-cold`). The hot pod is killed: writes resume through the others, at
        /// the new hot replica, and the
        /// pod the StatefulSet brings back (on a new IP) joins the same cluster. As written, the
        /// proxies speak only HTTPS, so a write reaching a pod other than the writer's goes on to the
        /// writer's proxy over HTTPS (its certificate verified against the Secret's CA and the
        /// Service's name); without TLS, over HTTP.
        @Test(arguments: SidecarPods.Variant.allCases)
        func readsStayLocalWritesReachTheWriterAndResumeWhenItsPodIsKilled(_ variant: SidecarPods.Variant) async throws {
            try await SidecarPods.with(variant) { harness, statefulSet in
                #expect(statefulSet.template.sidecars.map(\.name) == ["disco-sidecar"])
                let pods = try await harness.apply(statefulSet)
                try await harness.waitUntilReady(pods)
                let formed = try await DiscoPods.waitForOneCluster(harness, voters: Self.three)
                let endpoints = try harness.endpoints(of: "app")
                #expect(endpoints.count == 3 && endpoints.allSatisfy { $0.hasSuffix(":8443") }, "\(endpoints)")

                for pod in harness.pods {
                    let read = try await SidecarPods.answer("GET", "/items", to: "\(pod.ip):8443", scheme: variant.scheme)
                    #expect(read.status == 200 && read.app == pod.name, "a read through \(pod.name) reached \(read)")
                    let anonymous = try await SidecarPods.answer("POST", "/orders", to: "\(pod.ip):8443", scheme: variant.scheme)
                    #expect(anonymous.status == 401, "a write without a key through \(pod.name): \(anonymous)")
                }
                var hot = ""
                try await waitUntil("every pod to name the same hot replica", timeout: .seconds(60)) {
                    hot = await SidecarPods.hotReplica(harness) ?? ""
                    return !hot.isEmpty
                }
                try await Self.checkWrites(harness, reach: hot, variant: variant)

                // The hot pod is killed (a forced delete); another replica becomes hot.
                await harness.deletePod(hot, grace: .zero)
                var newWriter = ""
                try await waitUntil("a new hot replica among the surviving pods", timeout: .seconds(60)) {
                    newWriter = await SidecarPods.hotReplica(harness) ?? ""
                    return !newWriter.isEmpty && newWriter != hot
                }
                try await Self.checkWrites(harness, reach: newWriter, variant: variant)

                let ordinal = try #require(Int(hot.split(separator: "-").last ?? ""))
                let back = try await harness.createPod(statefulSet, ordinal: ordinal)
                try await harness.waitUntilReady([back])
                #expect(try await DiscoPods.waitForOneCluster(harness, voters: Self.three).epoch == formed.epoch)
                let read = try await SidecarPods.answer("GET", "/items", to: "\(back.ip):8443", scheme: variant.scheme)
                #expect(read.status == 200 && read.app == back.name, "\(read)")
                #expect(harness.pods.allSatisfy { $0.totalRestarts == 0 }, "a container restarted:\n\(harness.describe())")
            }
        }

        /// Waits until a write with the API key through every ready endpoint of the Service reaches
        /// `writer`'s application with the key's headers removed on the way.
        static func checkWrites(_ harness: KubeHarness, reach writer: String, variant: SidecarPods.Variant) async throws {
            var last: [String: SidecarPods.Answer] = [:]
            let writerEndpoint = try #require(harness.pod(writer)).ip + ":8443"
            func reached(_ answer: SidecarPods.Answer) -> Bool {
                answer.status == 200 && answer.app == writer && answer.json?["app_id"]?.isNull == true
            }
            do {
                try await waitUntil("writes to reach \(writer)'s application", timeout: .seconds(60), pollEvery: .milliseconds(200)) {
                    let endpoints = try harness.endpoints(of: "app")
                    guard endpoints.count == harness.pods.count, endpoints.contains(writerEndpoint) else { return false }
                    last = [:]
                    for endpoint in endpoints {
                        last[endpoint] = await SidecarPods.send("POST", "/orders", to: endpoint, scheme: variant.scheme, key: true)
                    }
                    return last.values.allSatisfy(reached)
                }
            } catch let timeout as WaitTimeout {
                throw ManifestError("\(timeout); last answers: \(last)")
            }
        }
    }
}
