import DiscoCore
import DiscoTestKit
import Foundation
import Synchronization
import Testing

/// The harness with pods of several containers, as the sidecar manifests will have: a plain init
/// container, a native sidecar and a stand-in application (small Python HTTP servers that write
/// down when they start and when they get SIGTERM, in a shared emptyDir).
@Suite(.serialized) struct HarnessPodTests {
    static let python = "/usr/bin/python3"

    /// Serves HTTP on $PORT; appends "$NAME" to /shared/order at start and "$NAME-term" on SIGTERM.
    static let standIn = """
        import http.server, os, signal, sys
        name = os.environ["NAME"]
        def stop(*_):
            open("/shared/order", "a").write(name + "-term\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        open("/shared/order", "a").write(name + "\\n")
        http.server.HTTPServer(("", int(os.environ["PORT"])), http.server.SimpleHTTPRequestHandler).serve_forever()
        """

    static func container(_ name: String, port: Int?, extra: String = "") -> String {
        let env = port.map { #"[{"name":"NAME","value":"\#(name)"},{"name":"PORT","value":"\#($0)"}]"# } ?? "[]"
        let ports = port.map { #"[{"name":"\#(name)","containerPort":\#($0)}]"# } ?? "[]"
        return #"{"name":"\#(name)","image":"stand-in","env":\#(env),"ports":\#(ports),"volumeMounts":[{"name":"shared","mountPath":"/shared"}]\#(extra)}"#
    }

    static var manifests: KubeManifests {
        get throws {
            let initContainer = #"{"name":"prepare","image":"shell","command":["/bin/sh","-c","echo prepare >> /shared/order"],"volumeMounts":[{"name":"shared","mountPath":"/shared"}]}"#
            let sidecar = container("sidecar", port: 8081, extra: #","restartPolicy":"Always","startupProbe":{"httpGet":{"path":"/","port":"sidecar"},"periodSeconds":1}"#)
            let app = container("app", port: 8080, extra: #","readinessProbe":{"httpGet":{"path":"/","port":"app"},"periodSeconds":1}"#)
            return try KubeManifests(json: try JSONValue.parse("""
                [{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web"},"spec":{"serviceName":"web","replicas":1,
                  "selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{
                    "terminationGracePeriodSeconds":10,"volumes":[{"name":"shared","emptyDir":{}}],
                    "initContainers":[\(initContainer),\(sidecar)],"containers":[\(app)]}}}},
                 {"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"clusterIP":"None","selector":{"app":"web"},
                  "ports":[{"name":"http","port":80,"targetPort":"app"}]}}]
                """))
        }
    }

    static func requireHarness() async throws {
        var reason = await KubeHarness.unavailableReason()
        if reason == nil, !FileManager.default.isExecutableFile(atPath: python) { reason = "\(python) is not installed" }
        if let reason {
            print("Kubernetes pod harness skipped: \(reason)")
            try Test.cancel(Comment(rawValue: reason))
        }
    }

    static let images = [
        HarnessImage(name: "stand-in", entrypoint: [python, "-c", standIn], programDirectories: []),
        HarnessImage(name: "shell", entrypoint: ["/bin/sh"], programDirectories: []),
    ]

    static func order(of pod: HarnessPod, _ harness: KubeHarness) async throws -> [String] {
        let outcome = try await harness.exec(pod.name, container: "app", ["/bin/cat", "/shared/order"])
        return outcome.standardOutput.split(separator: "\n").map(String.init)
    }

    @Test func initContainersThenSidecarsThenTheAppAndStoppingInReverse() async throws {
        try await Self.requireHarness()
        let manifests = try Self.manifests
        try await KubeHarness.with(manifests, images: Self.images) { harness in
            let statefulSet = try manifests.statefulSet("web")
            let pod = try await harness.createPod(statefulSet, ordinal: 0)
            try await harness.waitUntilReady([pod], timeout: .seconds(60))
            #expect(try await Self.order(of: pod, harness) == ["prepare", "sidecar", "app"])
            #expect(try harness.endpoints(of: "web") == ["\(pod.ip):8080"])
            #expect(await LoopbackProbe.httpGet(host: pod.ip, port: 8081, path: "/")?.status == 200, "the sidecar shares the pod's IP")

            // A container that dies is started again after the back-off; the plain init container is not.
            pod.process("app")?.send(SIGKILL)
            try await waitUntil("the app to be restarted", timeout: .seconds(60)) { pod.restarts("app") == 1 && pod.isReady }
            #expect(pod.restarts("prepare") == 0 && pod.restarts("sidecar") == 0)

            let volume = try #require(pod.volumes["shared"])
            let ended = await harness.deletePod(pod.name)
            #expect(ended.map(\.container) == ["app", "sidecar"], "main containers stop first, then sidecars in reverse order")
            #expect(ended.allSatisfy { $0.status == 0 && !$0.killed }, "\(ended)")
            let order = try String(contentsOfFile: "\(volume)/order", encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(order == ["prepare", "sidecar", "app", "app", "app-term", "sidecar-term"])
        }
    }

    /// Everything the harness made is gone afterwards, also when the test body throws.
    @Test func teardownRemovesNamespacesLinksAndFilesEvenAfterAFailure() async throws {
        try await Self.requireHarness()
        struct Deliberate: Error {}
        let manifests = try Self.manifests
        final class Seen: Sendable { let value = Mutex<(index: Int, pids: [Int32])?>(nil) }
        let seen = Seen()
        do {
            try await KubeHarness.with(manifests, images: Self.images) { harness in
                let pod = try await harness.createPod(try manifests.statefulSet("web"), ordinal: 0)
                try await harness.waitUntilReady([pod], timeout: .seconds(60))
                seen.value.withLock { $0 = (harness.network.index, [pod.process("app")?.pid, pod.process("sidecar")?.pid].compactMap { $0 }) }
                throw Deliberate()
            }
            Issue.record("the body's error was swallowed")
        } catch is Deliberate {}
        let (index, pids) = try #require(seen.value.withLock { $0 })
        let namespaces = try await Command.check("ip", ["netns", "list"])
        #expect(!namespaces.contains("dk8s\(index)-"), Comment(rawValue: namespaces))
        let links = try await Command.check("ip", ["-o", "link", "show"])
        #expect(!links.contains("dk8s\(index):") && !links.contains("dk\(index)v"), Comment(rawValue: links))
        let etc = (try? FileManager.default.contentsOfDirectory(atPath: "/etc/netns")) ?? []
        #expect(!etc.contains { $0.hasPrefix("dk8s\(index)-") })
        #expect(pids.count == 2 && pids.allSatisfy { kill($0, 0) != 0 }, "container processes must be gone")
    }

    /// What a killed test run left behind (a bridge, a namespace, a process in it) is removed by
    /// the next run that makes a pod network.
    @Test func theNextRunRemovesWhatAKilledRunLeftBehind() async throws {
        try await Self.requireHarness()
        let index = 509
        let bridge = "dk8s\(index)", namespace = "dk8s\(index)-stale-0"
        try await Command.check("ip", ["link", "add", bridge, "type", "bridge"])
        try await Command.check("ip", ["netns", "add", namespace])
        let orphan = ChildProcess(name: "orphan", executable: try #require(Command.which("ip")),
                                  arguments: ["netns", "exec", namespace, "sleep", "300"])
        try orphan.start()
        // `ip netns exec` joins the namespace a moment after it starts. Until it has, the clean-up
        // (`ip netns pids`) cannot see it: it would be left out of the kill and either fail to join
        // the deleted namespace (exit 255) or join it anyway and sleep on. What a killed run leaves
        // behind is a process in the namespace, so that is what the run starts from.
        let pid = try #require(orphan.pid)
        try await waitUntil("the orphan to run in \(namespace)", timeout: .seconds(60)) {
            let inside = try await Command.check("ip", ["netns", "pids", namespace])
            return inside.split(separator: "\n").contains(Substring(String(pid)))
        }
        let network = try await PodNetwork.create()
        await network.destroy()
        let links = try await Command.check("ip", ["-o", "link", "show"])
        #expect(!links.contains("\(bridge):"), Comment(rawValue: links))
        #expect(!(try await Command.check("ip", ["netns", "list"])).contains(namespace))
        #expect(try await orphan.waitForExit(timeout: .seconds(60)) == 128 + SIGKILL)
    }
}
