import DiscoCore
import Foundation

// MARK: - ManifestRules

/// What the project checks in its manifests beyond the API schemas (which
/// `kubernetes-validate --strict` checks): rules a schema cannot express, and the rules that
/// rqlite's and Consul's charts learned for clusters formed with `-bootstrap-expect`.
public enum ManifestRules {
    public enum Rule: String, Sendable, Hashable {
        /// `restartPolicy` only on init containers (where `Always` makes a native sidecar).
        case restartPolicy
        /// A probe's port is a port the same container declares.
        case probePort
        /// A Service's target port is declared by the containers it selects (a named one by a
        /// regular container: named ports of native sidecars resolve only from Kubernetes 1.32).
        case servicePort
        /// A `-bootstrap-expect` StatefulSet starts its pods in parallel.
        case parallelPods
        /// Its headless Service publishes not-ready pods.
        case publishNotReady
        /// `-bootstrap-expect` equals the replicas.
        case bootstrapExpectReplicas
        /// dns/dns-srv discovery asks for the StatefulSet's headless Service (and a named port of it).
        case discoveryService
        /// A node's memory limit holds its event window at its measured cost.
        case memoryLimit
        /// The command line passes the program's own `-validate`.
        case commandLine
    }

    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        public let rule: Rule
        public let location: String
        public let message: String
        public var description: String { "\(location): \(message) [\(rule.rawValue)]" }
    }

    /// The programs whose command lines the check parses with `-validate`.
    public static let programs: Set<String> = ["discod", "disco-sidecar"]

    /// A workload's pod template, with its StatefulSet when it is one.
    struct Workload {
        let object: KubeObject
        let template: PodTemplate
        let statefulSet: StatefulSetSpec?
    }

    static func workloads(_ manifests: KubeManifests) throws -> [Workload] {
        var out: [Workload] = []
        for object in manifests.objects {
            switch object.kind {
            case "StatefulSet":
                let statefulSet = try StatefulSetSpec(object)
                out.append(Workload(object: object, template: statefulSet.template, statefulSet: statefulSet))
            case "Deployment", "DaemonSet", "ReplicaSet", "Job":
                guard let template = try object.root.object("spec")?.object("template") else { continue }
                out.append(Workload(object: object, template: try PodTemplate(template), statefulSet: nil))
            case "Pod":
                out.append(Workload(object: object, template: try PodTemplate(object.root), statefulSet: nil))
            default:
                continue
            }
        }
        return out
    }

    /// The downward-API values the check fills in (the first pod of the workload).
    static func sampleIdentity(_ workload: Workload, podIP: String = samplePodIP) -> PodIdentity {
        let name = workload.statefulSet.map { "\($0.name)-0" } ?? "\(workload.object.name)-sample"
        return PodIdentity(name: name, namespace: workload.object.namespace ?? "default", uid: "00000000-0000-0000-0000-000000000000",
                           ip: podIP, hostIP: podIP.contains(":") ? "fd00::1" : "10.0.0.1", labels: workload.template.labels)
    }

    /// The pod address command lines are checked with unless a check names another.
    public static let samplePodIP = "10.0.0.10"

    /// A container's command line as the kubelet would run it, with sample downward-API values;
    /// nil when it runs its image's own entrypoint and the image is not one of `images` (someone
    /// else's program, which these rules do not judge).
    static func commandLine(_ container: ContainerSpec, in workload: Workload, images: [HarnessImage],
                            podIP: String = samplePodIP) throws -> [String]? {
        let image = images.first { $0.name == HarnessImage.baseName(of: container.image) }
        if image == nil, container.command == nil { return nil }
        let pod = sampleIdentity(workload, podIP: podIP)
        let environment = try KubeletExpansion.environment(of: container, pod: pod,
                                                           base: image?.baseEnvironment(hostname: pod.name) ?? [])
        let entrypoint = container.command == nil && container.args == nil ? (image.map { $0.entrypoint + $0.cmd } ?? []) : (image?.entrypoint ?? [])
        return try KubeletExpansion.commandLine(of: container, environment: environment, entrypoint: entrypoint)
    }

    /// The value of a Go-style flag (`-name=v`, `--name=v`, or `-name v`) anywhere in `arguments`.
    /// Reading a value is all the rules need; whether the whole command line parses is the
    /// program's own `-validate`'s to say (``checkCommandLines(_:images:programsDirectory:)``).
    static func flagValue(_ name: String, in arguments: ArraySlice<String>) -> String? {
        for index in arguments.indices where arguments[index].hasPrefix("-") {
            let body = arguments[index].drop { $0 == "-" }
            if body.hasPrefix(name + "=") { return String(body.dropFirst(name.count + 1)) }
            if body == Substring(name), index + 1 < arguments.endIndex { return arguments[index + 1] }
        }
        return nil
    }
}

// MARK: - Static rules

extension ManifestRules {
    /// Every rule except ``Rule/commandLine``; an empty result means the manifests pass.
    public static func check(_ manifests: KubeManifests, images: [HarnessImage]) throws -> [Finding] {
        var findings: [Finding] = []
        let services = try manifests.services()
        for workload in try workloads(manifests) {
            findings += containerRules(workload.template)
            findings += try memoryRules(workload, images: images)
            for service in services where service.selects(workload.template.labels) {
                findings += servicePortRules(service, template: workload.template)
            }
            if let statefulSet = workload.statefulSet {
                findings += try bootstrapRules(statefulSet, workload: workload, services: services, images: images)
            }
        }
        return findings
    }

    static func containerRules(_ template: PodTemplate) -> [Finding] {
        var findings: [Finding] = []
        for container in template.containers where container.restartPolicy != nil {
            findings.append(Finding(rule: .restartPolicy, location: container.location,
                                    message: "restartPolicy \(container.restartPolicy ?? "") is only allowed on initContainers "
                                        + "(restartPolicy: Always there makes a native sidecar); remove it or move the container"))
        }
        for container in template.initContainers where container.restartPolicy != nil && !container.isNativeSidecar {
            findings.append(Finding(rule: .restartPolicy, location: container.location,
                                    message: "an init container's restartPolicy can only be Always (a native sidecar), not \(container.restartPolicy ?? "")"))
        }
        for container in template.allContainers {
            for (kind, probe) in container.probes where container.port(probe.port) == nil {
                findings.append(Finding(rule: .probePort, location: probe.location,
                                        message: "the \(kind.rawValue) probe's port \(probe.port) is not a port of container \(container.name) "
                                            + "(it declares \(container.ports.map { "\($0.name ?? "-")=\($0.containerPort)" }.joined(separator: ", ")))"))
            }
        }
        return findings
    }

    static func servicePortRules(_ service: ServiceSpec, template: PodTemplate) -> [Finding] {
        service.ports.compactMap { port in
            let location = "Service \(service.name): port \(port.name ?? String(port.port))"
            switch port.targetPort {
            case .number(let number):
                guard !template.allContainers.contains(where: { $0.port(.number(number), proto: port.proto) != nil }) else { return nil }
                return Finding(rule: .servicePort, location: location,
                               message: "targetPort \(number) (\(port.proto)) is not a container port of the pods it selects")
            case .name(let name):
                func declared(in container: ContainerSpec) -> ContainerSpec.Port? {
                    container.ports.first { $0.name == name && $0.proto == port.proto }
                }
                if template.containers.contains(where: { declared(in: $0) != nil }) { return nil }
                // Kubernetes resolves a native sidecar's named ports for Services only from 1.32
                // (kubernetes/kubernetes#127958): before that the Service has no endpoint port, so no
                // traffic and, for a headless Service, no SRV records.
                for sidecar in template.sidecars {
                    guard let declared = declared(in: sidecar) else { continue }
                    return Finding(rule: .servicePort, location: location,
                                   message: "targetPort \(name) (\(port.proto)) is declared only by the native sidecar \(sidecar.name), whose named ports "
                                       + "Kubernetes resolves for Services only from 1.32; give its number, \(declared.containerPort)")
                }
                return Finding(rule: .servicePort, location: location,
                               message: "targetPort \(name) (\(port.proto)) is not a named port of the pods it selects")
            }
        }
    }

    static func bootstrapRules(_ statefulSet: StatefulSetSpec, workload: Workload, services: [ServiceSpec],
                               images: [HarnessImage]) throws -> [Finding] {
        var findings: [Finding] = []
        let location = "StatefulSet \(statefulSet.name)"
        for container in statefulSet.template.allContainers {
            guard let line = try commandLine(container, in: workload, images: images),
                  let program = line.first.map({ URL(fileURLWithPath: $0).lastPathComponent }), programs.contains(program),
                  let text = flagValue("bootstrap-expect", in: line.dropFirst()), let expect = Int(text), expect > 0
            else { continue }
            if statefulSet.podManagementPolicy != .parallel {
                findings.append(Finding(rule: .parallelPods, location: location,
                                        message: "-bootstrap-expect=\(expect) needs podManagementPolicy: Parallel (with \(statefulSet.podManagementPolicy.rawValue), "
                                            + "pod 1 waits for pod 0 to be ready, which waits for a cluster of \(expect))"))
            }
            if expect != statefulSet.replicas {
                findings.append(Finding(rule: .bootstrapExpectReplicas, location: location,
                                        message: "-bootstrap-expect=\(expect) but replicas is \(statefulSet.replicas); give the number of voters that start together"))
            }
            guard let headless = services.first(where: { $0.name == statefulSet.serviceName }), headless.headless else {
                findings.append(Finding(rule: .publishNotReady, location: location,
                                        message: "serviceName \(statefulSet.serviceName.debugDescription) is not a headless Service (clusterIP: None) in these manifests"))
                continue
            }
            if !headless.publishNotReadyAddresses {
                findings.append(Finding(rule: .publishNotReady, location: "Service \(headless.name)",
                                        message: "publishNotReadyAddresses must be true: the pods find each other through it before any is ready"))
            }
            findings += discoveryRules(line, headless: headless, location: container.location)
        }
        return findings
    }

    static func discoveryRules(_ line: [String], headless: ServiceSpec, location: String) -> [Finding] {
        guard let mode = flagValue("disco-mode", in: line.dropFirst()), mode == "dns" || mode == "dns-srv",
              let text = flagValue("disco-config", in: line.dropFirst()), let config = try? JSONValue.parse(text),
              let name = config["name"]?.stringValue
        else { return [] }
        var findings: [Finding] = []
        if name != headless.name, !name.hasPrefix(headless.name + ".") {
            findings.append(Finding(rule: .discoveryService, location: location,
                                    message: "-disco-config name \(name.debugDescription) is not the headless Service \(headless.name) (\(headless.name).<namespace>.svc.<zone>)"))
        }
        if mode == "dns-srv", let service = config["service"]?.stringValue,
           !headless.ports.contains(where: { $0.name == service && $0.proto.lowercased() == (config["protocol"]?.stringValue ?? "tcp") }) {
            findings.append(Finding(rule: .discoveryService, location: location,
                                    message: "-disco-config service \(service.debugDescription) is not a named port of Service \(headless.name), so it has no SRV records"))
        }
        return findings
    }
}

// MARK: - Command lines

extension ManifestRules {
    /// Runs `<program> -validate <args>` for every container whose program is one of
    /// ``programs``, with the downward API filled in; a non-zero exit is a finding with the
    /// program's message.
    ///
    /// Files the program reads from Secret and ConfigMap volumes (certificates, key files,
    /// configuration) are written to a temporary directory from `objects` and the manifests'
    /// own ConfigMaps, and arguments under a mount path point there instead, as if mounted.
    public static func checkCommandLines(_ manifests: KubeManifests, images: [HarnessImage], programsDirectory: String,
                                         objects: ObjectData = ObjectData(), podIP: String = samplePodIP) async throws -> [Finding] {
        var findings: [Finding] = []
        let data = try ObjectData(manifests, given: objects)
        let scratch = NSTemporaryDirectory() + "disco-manifest-check-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for workload in try workloads(manifests) {
            for container in workload.template.allContainers {
                guard var line = try commandLine(container, in: workload, images: images, podIP: podIP),
                      let program = line.first.map({ URL(fileURLWithPath: $0).lastPathComponent }), programs.contains(program) else { continue }
                let executable = "\(programsDirectory)/\(program)"
                guard FileManager.default.isExecutableFile(atPath: executable) else {
                    findings.append(Finding(rule: .commandLine, location: container.location, message: "\(executable) is not built, so its command line cannot be checked"))
                    continue
                }
                for mount in container.volumeMounts {
                    guard let projected = workload.template.objectVolumes[mount.name], data.data(for: projected) != nil else { continue }
                    let directory = "\(scratch)/\(workload.object.name)/\(container.name)/\(mount.name)"
                    try data.materialize(projected, into: directory, group: nil)
                    line = line.map { $0.replacingOccurrences(of: mount.mountPath + "/", with: directory + "/") }
                }
                let outcome = try await Command.run(executable, ["-validate"] + line.dropFirst())
                if !outcome.succeeded {
                    findings.append(Finding(rule: .commandLine, location: container.location,
                                            message: "\(program) -validate exited \(outcome.status): \(outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines))"))
                }
            }
        }
        return findings
    }
}
