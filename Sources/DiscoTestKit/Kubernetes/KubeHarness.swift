import Foundation
import Synchronization

// MARK: - KubeHarness

/// Runs the workloads of Kubernetes manifests on this machine without a cluster: every pod in a
/// network namespace of its own on a private bridge (``PodNetwork``), its containers started as
/// the kubelet starts them (``HarnessPod``, ``ContainerLaunch``), cluster DNS answering for
/// headless Services (``ClusterDNS``), and the StatefulSet controller's moves (create in
/// parallel or in order, delete, rolling restart, scale) as methods.
///
/// Needs root (network and mount namespaces), iproute2, util-linux and dnsmasq; see
/// ``unavailableReason()``. Use ``with(_:images:settings:_:)``, which removes every namespace,
/// link, process and directory it made, also when the body throws.
public final class KubeHarness: Sendable {
    public let manifests: KubeManifests
    /// The namespace of objects that do not name one.
    public let namespace: String
    public let network: PodNetwork
    public let dns: ClusterDNS
    public let settings: KubeletSettings
    /// The Secrets and ConfigMaps pods can mount: the manifests' own and those the test gave.
    public let objectData: ObjectData
    let images: [String: HarnessImage]
    /// Volumes (claims and emptyDirs) live under here.
    let root: String
    let state = Mutex(State())

    struct State {
        var pods: [String: HarnessPod] = [:]
        var dnsError: String?
        var shutDown = false
    }

    private init(manifests: KubeManifests, namespace: String, network: PodNetwork, dns: ClusterDNS, settings: KubeletSettings,
                 objectData: ObjectData, images: [HarnessImage], root: String) {
        self.manifests = manifests
        self.objectData = objectData
        self.namespace = namespace
        self.network = network
        self.dns = dns
        self.settings = settings
        self.images = Dictionary(images.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        self.root = root
    }

    // MARK: Lifetime

    /// Runs `body` with a fresh harness and tears everything down afterwards, whether `body`
    /// returns or throws. `objects` are Secrets and ConfigMaps that exist before the manifests
    /// are applied (what `kubectl create secret` made); pods mount them and the manifests' own.
    /// `family` is the pods' addresses: IPv4, or IPv6 only (`status.podIP` like `fd00:d15c:7::a`).
    public static func with<T: Sendable>(_ manifests: KubeManifests, images: [HarnessImage], objects: ObjectData = ObjectData(),
                                         namespace: String = "default", settings: KubeletSettings = KubeletSettings(),
                                         family: PodNetwork.Family = .ipv4,
                                         _ body: (KubeHarness) async throws -> T) async throws -> T {
        let harness = try await start(manifests, images: images, objects: objects, namespace: namespace, settings: settings, family: family)
        do {
            let result = try await body(harness)
            await harness.shutdown()
            return result
        } catch {
            await harness.shutdown()
            throw error
        }
    }

    static func start(_ manifests: KubeManifests, images: [HarnessImage], objects: ObjectData, namespace: String,
                      settings: KubeletSettings, family: PodNetwork.Family = .ipv4) async throws -> KubeHarness {
        let objectData = try ObjectData(manifests, given: objects)
        let network = try await PodNetwork.create(family: family)
        do {
            let dns = ClusterDNS(sandbox: try await network.addSandbox(label: "kube-dns"))
            let root = NSTemporaryDirectory() + "disco-k8s-\(network.index)-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            let harness = KubeHarness(manifests: manifests, namespace: namespace, network: network, dns: dns, settings: settings,
                                      objectData: objectData, images: images, root: root)
            try await dns.serve(harness.desiredRecords())
            return harness
        } catch {
            await network.destroy()
            throw error
        }
    }

    /// Kills every pod, stops DNS, removes the network and the volumes.
    public func shutdown() async {
        let pods = state.withLock { state -> [HarnessPod] in
            state.shutDown = true
            return Array(state.pods.values)
        }
        for pod in pods { await pod.kill() }
        await dns.stop()
        await network.destroy()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Why the harness cannot run here, or nil. Never skip silently: print this.
    public static func unavailableReason() async -> String? {
        if let reason = await PodNetwork.unavailableReason() { return reason }
        for tool in ["setpriv", "mount", "sh", "env"] where Command.which(tool) == nil {
            return "\(tool) is not installed (util-linux, coreutils)"
        }
        guard FileManager.default.isExecutableFile(atPath: DnsmasqFixture.executable) else {
            return "dnsmasq is not installed (\(DnsmasqFixture.executable)); scripts/test installs dnsmasq-base"
        }
        return nil
    }

    // MARK: Pods

    /// The pods that exist now (not yet deleted), by name.
    public var pods: [HarnessPod] { state.withLock { $0.pods.values.sorted { $0.name < $1.name } } }

    public func pod(_ name: String) -> HarnessPod? { state.withLock { $0.pods[name] } }

    /// The last error from updating cluster DNS, if the latest update failed.
    public var dnsError: String? { state.withLock { $0.dnsError } }

    /// `ip:port` of the ready pods behind a Service, for one of its ports (the first when
    /// `port` is nil): what a ClusterIP Service would send traffic to.
    public func endpoints(of serviceName: String, port portName: String? = nil) throws -> [String] {
        let service = try manifests.service(serviceName)
        guard let port = portName.map({ name in service.ports.first { $0.name == name } }) ?? service.ports.first else {
            throw ManifestError("Service \(serviceName) has no port \(portName ?? "at all")")
        }
        return pods.filter { $0.isReady && service.selects($0.identity.labels) }.compactMap { pod -> String? in
            switch port.targetPort {
            case .number(let number): return "\(pod.authorityHost):\(number)"
            case .name(let name):
                let container = pod.template.allContainers.lazy.compactMap { $0.port(.name(name)) }.first
                return container.map { "\(pod.authorityHost):\($0.containerPort)" }
            }
        }
    }

    /// Runs `command` in a pod's container as `kubectl exec` does (the container's user,
    /// environment and mounts, the pod's network) and waits for it.
    public func exec(_ podName: String, container: String? = nil, _ command: [String],
                     timeout: Duration = .seconds(60)) async throws -> Command.Outcome {
        guard let pod = pod(podName) else { throw ManifestError("no pod \(podName)") }
        let name = container ?? pod.template.containers[0].name
        guard let launch = pod.launches[name] else { throw ManifestError("pod \(podName) has no container \(name)") }
        return try await Command.run("ip", launch.arguments(running: command), environment: ["PATH": HarnessImage.defaultPath],
                                     timeout: timeout)
    }

    /// Every pod's recent output and the DNS state, for failure messages.
    public func describe() -> String {
        let dnsLine = "--- cluster DNS \(dns.ip) (restarts \(dns.restarts))" + (dnsError.map { ", last error: \($0)" } ?? "")
        return ([dnsLine] + pods.map { $0.describe() }).joined(separator: "\n")
    }

    // MARK: DNS

    func desiredRecords() throws -> DnsmasqFixture.Records {
        let views = pods.filter { $0.phase != .terminated }.map { pod in
            ClusterDNSRecords.Pod(
                name: pod.name, namespace: pod.namespace, ip: pod.ip, labels: pod.identity.labels,
                hostname: pod.identity.labels["statefulset.kubernetes.io/pod-name"], subdomain: pod.subdomain,
                ready: pod.isReady, terminating: pod.phase == .terminating,
                namedPorts: Dictionary(pod.template.allContainers.flatMap(\.ports).compactMap { port in port.name.map { ($0, port.containerPort) } },
                                       uniquingKeysWith: { first, _ in first }))
        }
        return ClusterDNSRecords.records(services: try manifests.services(), pods: views, defaultNamespace: namespace, zone: dns.zone)
    }

    /// Brings DNS in line with the pods (called whenever a pod appears, goes, or changes readiness).
    func refreshDNS() async {
        guard !state.withLock({ $0.shutDown }) else { return }
        do {
            try await dns.serve(try desiredRecords())
            state.withLock { $0.dnsError = nil }
        } catch {
            state.withLock { $0.dnsError = "\(error)" }
        }
    }
}
