import DiscoCore
import Foundation
import Synchronization

// MARK: - ClusterDNSRecords

/// The records kube-dns (CoreDNS) serves for headless Services, computed from the pods that
/// exist right now (kubernetes/dns specification 1.0.1, §2.4):
///
/// - `<svc>.<ns>.svc.<zone>` A: every endpoint's IP (no endpoints: NXDOMAIN);
/// - `<hostname>.<svc>.<ns>.svc.<zone>` A for a pod whose `hostname` is set and whose
///   `subdomain` is the Service (StatefulSet pods), else `<a-b-c-d>.<svc>.<ns>.svc.<zone>`;
/// - `_<port>._<proto>.<svc>.<ns>.svc.<zone>` SRV for every named port: priority 0, weight
///   100/N, the endpoint's port, the endpoint's name as target.
///
/// Endpoints are the selected pods that are ready, or every selected pod with an IP (terminating
/// ones too) when the Service sets `publishNotReadyAddresses`. Services with a cluster IP get no
/// records: the harness has no virtual IPs (clients use ``KubeHarness/endpoints(of:port:)``).
public enum ClusterDNSRecords {
    /// What DNS needs to know about one pod.
    public struct Pod: Sendable, Hashable {
        public var name: String
        public var namespace: String
        public var ip: String
        public var labels: [String: String]
        public var hostname: String?
        public var subdomain: String?
        public var ready: Bool
        public var terminating: Bool
        /// Container port names → numbers, for Services that target a port by name.
        public var namedPorts: [String: UInt16]

        public init(name: String, namespace: String, ip: String, labels: [String: String], hostname: String?, subdomain: String?,
                    ready: Bool, terminating: Bool, namedPorts: [String: UInt16]) {
            self.name = name
            self.namespace = namespace
            self.ip = ip
            self.labels = labels
            self.hostname = hostname
            self.subdomain = subdomain
            self.ready = ready
            self.terminating = terminating
            self.namedPorts = namedPorts
        }
    }

    public static func records(services: [ServiceSpec], pods: [Pod], defaultNamespace: String, zone: String) -> DnsmasqFixture.Records {
        var records = DnsmasqFixture.Records()
        records.localDomains = [zone]
        records.ttl = 5
        var hosts: [(name: String, address: String)] = []
        for service in services where service.headless {
            let namespace = service.namespace ?? defaultNamespace
            let domain = "\(service.name).\(namespace).svc.\(zone)"
            let endpoints = pods.filter { pod in
                pod.namespace == namespace && service.selects(pod.labels)
                    && (service.publishNotReadyAddresses || (pod.ready && !pod.terminating))
            }.sorted { $0.name < $1.name }
            for pod in endpoints {
                hosts.append((domain, pod.ip))
                hosts.append((endpointName(pod, service: service, domain: domain), pod.ip))
            }
            for port in service.ports {
                guard let portName = port.name else { continue }
                let targets: [(pod: Pod, port: UInt16)] = endpoints.compactMap { pod in
                    switch port.targetPort {
                    case .number(let number): return (pod, number)
                    case .name(let name): return pod.namedPorts[name].map { (pod, $0) }
                    }
                }
                let weight = UInt16(max(1, 100 / max(1, targets.count)))
                for target in targets {
                    records.srv.append(DnsmasqFixture.SRV(name: "_\(portName)._\(port.proto.lowercased()).\(domain)",
                                                          target: endpointName(target.pod, service: service, domain: domain),
                                                          port: target.port, priority: 0, weight: weight))
                }
            }
        }
        var seen = Set<String>()
        records.hosts = hosts.filter { seen.insert("\($0.name) \($0.address)").inserted }
        return records
    }

    static func endpointName(_ pod: Pod, service: ServiceSpec, domain: String) -> String {
        if let hostname = pod.hostname, pod.subdomain == service.name { return "\(hostname).\(domain)" }
        // As CoreDNS: 10-1-2-3 for 10.1.2.3, fd00--12 for fd00::12.
        return "\(pod.ip.replacingOccurrences(of: ".", with: "-").replacingOccurrences(of: ":", with: "-")).\(domain)"
    }
}

// MARK: - ClusterDNS

/// dnsmasq in its own namespace on the pod network, answering what ``ClusterDNSRecords``
/// computes. dnsmasq cannot reload SRV records, so a change of records restarts it (about as
/// long as CoreDNS takes to see an endpoint change; lookups in between fail and are retried).
public final class ClusterDNS: Sendable {
    public let sandbox: PodNetwork.Sandbox
    public let zone: String
    private let state = Mutex(State())
    /// One restart at a time: callers with newer records wait, then compare again.
    private let restarting = AsyncLock()

    private struct State {
        var process: ChildProcess?
        var records: DnsmasqFixture.Records?
        var restarts = 0
    }

    /// The server's address: every pod's `nameserver`.
    public var ip: String { sandbox.ip }

    public init(sandbox: PodNetwork.Sandbox, zone: String = "cluster.local") {
        self.sandbox = sandbox
        self.zone = zone
    }

    /// The resolv.conf a pod in `namespace` gets (the kubelet's ClusterFirst policy).
    public func resolvConf(namespace: String) -> String {
        "search \(namespace).svc.\(zone) svc.\(zone) \(zone)\nnameserver \(ip)\noptions ndots:5\n"
    }

    /// How many times the records changed after the first start.
    public var restarts: Int { state.withLock { $0.restarts } }

    /// Serves `records`, restarting dnsmasq when they differ from what it serves now; returns
    /// once the new server answers.
    public func serve(_ records: DnsmasqFixture.Records) async throws {
        try await restarting.withLock { try await restart(serving: records) }
    }

    private func restart(serving records: DnsmasqFixture.Records) async throws {
        let (previous, unchanged) = state.withLock { ($0.process, $0.records == records && $0.process?.isRunning == true) }
        guard !unchanged else { return }
        await previous?.stop(grace: .seconds(2))
        let arguments = ["netns", "exec", sandbox.namespace, DnsmasqFixture.executable,
                         "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                         "--listen-address=\(ip)", "--bind-interfaces", "--port=53", "--log-facility=-"] + records.arguments
        guard let ipTool = Command.which("ip") else { throw PodNetwork.Failure(description: "iproute2's ip is not installed") }
        let process = ChildProcess(name: "cluster-dns", executable: ipTool, arguments: arguments)
        try process.start()
        state.withLock { state in
            if state.records != nil { state.restarts += 1 }
            state.process = process
            state.records = records
        }
        try await waitUntil("cluster DNS (dnsmasq on \(ip):53) to answer") {
            if let status = process.exitStatus {
                throw ChildProcess.Failure(description: "dnsmasq exited with \(status):\n\(process.output)")
            }
            return await LoopbackProbe.dnsAnswers(host: ip, port: 53)
        }
    }

    /// Stops dnsmasq.
    public func stop() async {
        let process = state.withLock { $0.process }
        await process?.stop(grace: .seconds(2))
    }
}
