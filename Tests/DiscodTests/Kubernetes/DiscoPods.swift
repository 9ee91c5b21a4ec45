import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - Pod harness scenarios, one at a time

/// Every scenario that runs pods (k8s/disco's and k8s/sidecar's) runs one after another: each
/// starts several clusters' worth of processes and namespaces, and two at once on a small
/// machine starve the rest of the suite.
@Suite(.serialized) enum PodHarnessScenarios {}

// MARK: - The disco StatefulSet under the pod harness

/// k8s/disco rendered, run by ``KubeHarness``, and asked about through each pod's HTTP API.
enum DiscoPods {
    static let statefulSetName = "disco"

    /// Ends the test as skipped, printing why, when pods cannot be run here.
    static func requireHarness() async throws {
        var reason = await KubeHarness.unavailableReason()
        if reason == nil { reason = await KubeManifests.renderingUnavailableReason() }
        if let reason {
            print("Kubernetes pod harness skipped: \(reason)")
            try Test.cancel(Comment(rawValue: "Kubernetes pod harness unavailable: \(reason)"))
        }
    }

    /// Runs `body` with k8s/disco's StatefulSet (not yet applied) in a fresh harness.
    static func with(family: PodNetwork.Family = .ipv4, _ body: (KubeHarness, StatefulSetSpec) async throws -> Void) async throws {
        try await requireHarness()
        let manifests = try await KubeManifests.render("k8s/disco")
        let products = try ExecutableRunner.productsDirectory().path
        try await KubeHarness.with(manifests, images: [.disco(productsDirectory: products)], family: family) { harness in
            let statefulSet = try manifests.statefulSet(statefulSetName)
            do {
                try await body(harness, statefulSet)
            } catch {
                Issue.record("\(error)\n\(harness.describe())")
                throw error
            }
        }
    }

    // MARK: Asking the pods

    /// Connects within 5 s: a lost SYN is sent again only after 1 s.
    static let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(5), requestTimeout: .seconds(5)))

    /// `GET path` on the pod's API port as JSON, or nil when it does not answer 200.
    static func get(_ pod: HarnessPod, _ path: String) async -> JSONValue? {
        let request = HTTPClientRequest(method: "GET", url: "http://\(pod.authorityHost):4001\(path)", headers: HTTPHeaders(), body: [])
        guard let answer = try? await client.send(request, timeout: .seconds(3)), answer.status == 200 else { return nil }
        return try? JSONValue.parse(answer.body)
    }

    struct View: Sendable, Hashable {
        var leader: String
        var epoch: String
        var voters: [String]
    }

    /// What a pod says about its cluster, or nil when it has no leader or does not answer.
    static func view(of pod: HarnessPod) async -> View? {
        guard let status = await get(pod, "/status"), let leader = status["leader"]?["id"]?.stringValue,
              let epoch = status["cluster"]?["epoch"]?.numberValue?.description,
              let nodes = await get(pod, "/nodes")?.arrayValue
        else { return nil }
        let voters = nodes.filter { $0["voter"]?.boolValue == true }.compactMap { $0["id"]?.stringValue }.sorted()
        return View(leader: leader, epoch: epoch, voters: voters)
    }

    /// Waits until every pod reports the same leader, epoch and exactly `voters`; returns that view.
    @discardableResult
    static func waitForOneCluster(_ harness: KubeHarness, voters: [String], timeout: Duration = .seconds(120)) async throws -> View {
        var agreed: View?
        do {
            try await waitUntil("pods \(harness.pods.map(\.name)) to agree on one cluster with voters \(voters)", timeout: timeout,
                                pollEvery: .milliseconds(200)) {
                var views = Set<View>()
                for pod in harness.pods {
                    guard let view = await view(of: pod) else { return false }
                    views.insert(view)
                }
                agreed = views.count == 1 && views.first?.voters == voters.sorted() ? views.first : nil
                return agreed != nil
            }
        } catch let timeout as WaitTimeout {
            var seen: [String] = []
            for pod in harness.pods { seen.append("\(pod.name): \(await view(of: pod).map { "\($0)" } ?? "no leader")") }
            throw ManifestError("\(timeout); pods say: \(seen.joined(separator: "; "))")
        }
        return agreed!
    }
}
