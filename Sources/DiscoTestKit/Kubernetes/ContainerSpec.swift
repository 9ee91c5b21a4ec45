import DiscoCore

// MARK: - ContainerSpec

/// One container of a pod template, as much of it as the harness runs and the project check reads.
public struct ContainerSpec: Sendable {
    public struct Port: Sendable, Hashable {
        public var name: String?
        public var containerPort: UInt16
        /// `TCP`, `UDP` or `SCTP`.
        public var proto: String
    }

    /// An `env` entry: a literal value (which may refer to earlier variables as `$(NAME)`), or a
    /// downward-API field.
    public enum EnvSource: Sendable, Hashable {
        case value(String)
        case field(String)
        /// A source the harness does not provide (secretKeyRef, configMapKeyRef, resourceFieldRef).
        case unsupported(String)
    }

    public struct VolumeMount: Sendable, Hashable {
        public var name: String
        public var mountPath: String
        public var readOnly: Bool
    }

    public var name: String
    public var image: String
    public var command: [String]?
    public var args: [String]?
    public var env: [(name: String, source: EnvSource)]
    public var ports: [Port]
    public var startupProbe: ProbeSpec?
    public var readinessProbe: ProbeSpec?
    public var livenessProbe: ProbeSpec?
    /// Only on init containers: `Always` makes it a native sidecar.
    public var restartPolicy: String?
    /// An init container with `restartPolicy: Always`: it keeps running beside the main containers.
    public var isNativeSidecar: Bool { restartPolicy == "Always" }
    public var volumeMounts: [VolumeMount]
    public var security: SecuritySettings
    /// `resources.limits.memory` in bytes, when set.
    public var memoryLimit: Int?
    /// Where the container sits in the manifest, for messages.
    public var location: String

    /// Reads one entry of `containers` or `initContainers`.
    public init(_ node: ManifestNode) throws(ManifestError) {
        location = node.location
        name = try node.requiredString("name")
        image = try node.string("image") ?? ""
        command = try node.strings("command")
        args = try node.strings("args")
        env = []
        for item in try node.array("env") {
            let variable = try item.requiredString("name")
            if let value = try item.string("value") {
                env.append((variable, .value(value)))
            } else if let from = try item.object("valueFrom") {
                if let field = try from.object("fieldRef") {
                    env.append((variable, .field(try field.requiredString("fieldPath"))))
                } else {
                    env.append((variable, .unsupported(from.value.objectValue?.keys.first ?? "valueFrom")))
                }
            } else {
                env.append((variable, .value("")))
            }
        }
        ports = []
        for item in try node.array("ports") {
            guard let number = try item.int("containerPort"), (1...65535).contains(number) else {
                throw item.error("containerPort", "required, 1...65535")
            }
            ports.append(Port(name: try item.string("name"), containerPort: UInt16(number), proto: try item.string("protocol") ?? "TCP"))
        }
        startupProbe = try node.object("startupProbe").map { node throws(ManifestError) in try ProbeSpec(node) }
        readinessProbe = try node.object("readinessProbe").map { node throws(ManifestError) in try ProbeSpec(node) }
        livenessProbe = try node.object("livenessProbe").map { node throws(ManifestError) in try ProbeSpec(node) }
        restartPolicy = try node.string("restartPolicy")
        volumeMounts = []
        for item in try node.array("volumeMounts") {
            volumeMounts.append(VolumeMount(name: try item.requiredString("name"), mountPath: try item.requiredString("mountPath"),
                                            readOnly: try item.bool("readOnly") ?? false))
        }
        security = try SecuritySettings(node.object("securityContext"))
        memoryLimit = try node.object("resources")?.object("limits")?.memoryQuantity("memory")
    }

    /// The container port a probe or Service refers to, by number or name.
    public func port(_ reference: PortReference, proto: String = "TCP") -> Port? {
        switch reference {
        case .number(let number): ports.first { $0.containerPort == number && $0.proto == proto }
        case .name(let name): ports.first { $0.name == name }
        }
    }

    /// The probes that are set, with their kind.
    public var probes: [(kind: ProbeSpec.Kind, probe: ProbeSpec)] {
        [(.startup, startupProbe), (.readiness, readinessProbe), (.liveness, livenessProbe)].compactMap { kind, probe in
            probe.map { (kind, $0) }
        }
    }
}

// MARK: - SecuritySettings

/// The parts of a pod's or container's `securityContext` the harness applies.
public struct SecuritySettings: Sendable, Hashable {
    public var runAsUser: Int?
    public var runAsGroup: Int?
    public var runAsNonRoot: Bool?
    public var fsGroup: Int?
    public var readOnlyRootFilesystem: Bool?
    public var allowPrivilegeEscalation: Bool?
    public var dropsAllCapabilities: Bool

    init(_ node: ManifestNode?) throws(ManifestError) {
        runAsUser = try node?.int("runAsUser")
        runAsGroup = try node?.int("runAsGroup")
        runAsNonRoot = try node?.bool("runAsNonRoot")
        fsGroup = try node?.int("fsGroup")
        readOnlyRootFilesystem = try node?.bool("readOnlyRootFilesystem")
        allowPrivilegeEscalation = try node?.bool("allowPrivilegeEscalation")
        dropsAllCapabilities = try node?.object("capabilities")?.strings("drop")?.contains("ALL") ?? false
    }

    /// Container settings over pod settings, field by field, as the kubelet merges them.
    func over(_ pod: SecuritySettings) -> SecuritySettings {
        var merged = self
        merged.runAsUser = runAsUser ?? pod.runAsUser
        merged.runAsGroup = runAsGroup ?? pod.runAsGroup
        merged.runAsNonRoot = runAsNonRoot ?? pod.runAsNonRoot
        merged.fsGroup = pod.fsGroup
        return merged
    }
}

// MARK: - ProbeSpec

/// An HTTP probe with the kubelet's defaults filled in.
public struct ProbeSpec: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case startup, readiness, liveness
    }

    /// `httpGet.scheme`: HTTP (the default) or HTTPS. Like the kubelet, an HTTPS probe does not
    /// verify the certificate.
    public enum Scheme: String, Sendable, Hashable {
        case http = "HTTP"
        case https = "HTTPS"
    }

    public var path: String
    public var port: PortReference
    public var scheme: Scheme
    public var initialDelaySeconds: Int
    public var periodSeconds: Int
    public var timeoutSeconds: Int
    public var successThreshold: Int
    public var failureThreshold: Int
    public var location: String

    init(_ node: ManifestNode) throws(ManifestError) {
        location = node.location
        guard let http = try node.object("httpGet") else {
            throw node.error(nil, "only httpGet probes are run by the harness (exec, tcpSocket and grpc are not)")
        }
        path = try http.string("path") ?? "/"
        guard let port = try http.portReference("port") else { throw http.error("port", "required") }
        self.port = port
        let scheme = try http.string("scheme") ?? Scheme.http.rawValue
        guard let known = Scheme(rawValue: scheme) else { throw http.error("scheme", "expected HTTP or HTTPS, got \(scheme.debugDescription)") }
        self.scheme = known
        initialDelaySeconds = try node.int("initialDelaySeconds") ?? 0
        periodSeconds = try node.int("periodSeconds") ?? 10
        timeoutSeconds = try node.int("timeoutSeconds") ?? 1
        successThreshold = try node.int("successThreshold") ?? 1
        failureThreshold = try node.int("failureThreshold") ?? 3
    }
}
