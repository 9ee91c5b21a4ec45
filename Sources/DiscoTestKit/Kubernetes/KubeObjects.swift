import DiscoCore

// MARK: - KubeObject

/// One rendered Kubernetes object: its identity, labels and the whole JSON.
public struct KubeObject: Sendable {
    public let kind: String
    public let apiVersion: String
    public let name: String
    public let namespace: String?
    public let labels: [String: String]
    public let root: ManifestNode

    public init(_ value: JSONValue) throws(ManifestError) {
        let bare = ManifestNode(value, location: "object:")
        kind = try bare.requiredString("kind")
        apiVersion = try bare.requiredString("apiVersion")
        guard let metadata = try bare.object("metadata") else { throw bare.error("metadata", "required") }
        name = try metadata.requiredString("name")
        namespace = try metadata.string("namespace")
        labels = try metadata.stringMap("labels")
        root = ManifestNode(value, location: "\(kind) \(name):")
    }
}

// MARK: - PodTemplate

/// A pod template's spec: containers, init containers, volumes, security and grace.
public struct PodTemplate: Sendable {
    public var labels: [String: String]
    public var initContainers: [ContainerSpec]
    public var containers: [ContainerSpec]
    public var terminationGracePeriodSeconds: Int
    public var security: SecuritySettings
    /// `volumes[].name` → the kind of source (`emptyDir`, `secret`, ...).
    public var volumes: [String: String]
    /// The `secret` and `configMap` volumes by name, with what they project.
    public var objectVolumes: [String: ObjectVolume]
    public var location: String

    /// Reads a pod template (`metadata` and `spec`; a Pod object has the same shape).
    public init(_ template: ManifestNode) throws(ManifestError) {
        labels = try template.object("metadata")?.stringMap("labels") ?? [:]
        guard let spec = try template.object("spec") else { throw template.error("spec", "required") }
        location = spec.location
        initContainers = []
        for item in try spec.array("initContainers") { initContainers.append(try ContainerSpec(item)) }
        containers = []
        for item in try spec.array("containers") { containers.append(try ContainerSpec(item)) }
        guard !containers.isEmpty else { throw spec.error("containers", "a pod needs at least one container") }
        terminationGracePeriodSeconds = try spec.int("terminationGracePeriodSeconds") ?? 30
        security = try SecuritySettings(spec.object("securityContext"))
        volumes = [:]
        objectVolumes = [:]
        for item in try spec.array("volumes") {
            let name = try item.requiredString("name")
            volumes[name] = item.value.objectValue?.keys.first { $0 != "name" } ?? "unknown"
            if let projected = try ObjectVolume(item) { objectVolumes[name] = projected }
        }
    }

    /// Native sidecars (`initContainers` with `restartPolicy: Always`).
    public var sidecars: [ContainerSpec] { initContainers.filter(\.isNativeSidecar) }

    /// Every container with where it runs.
    public var allContainers: [ContainerSpec] { initContainers + containers }
}

// MARK: - StatefulSetSpec

/// How a StatefulSet creates and deletes its pods.
public enum PodManagementPolicy: String, Sendable, Hashable {
    /// One pod at a time, each waiting for the one before to be ready (the default).
    case orderedReady = "OrderedReady"
    /// All pods at once.
    case parallel = "Parallel"
}

public struct StatefulSetSpec: Sendable {
    public var name: String
    public var namespace: String?
    public var serviceName: String
    public var replicas: Int
    public var podManagementPolicy: PodManagementPolicy
    public var selector: [String: String]
    public var template: PodTemplate
    public var volumeClaimTemplates: [String]
    /// `persistentVolumeClaimRetentionPolicy.whenScaled`: `Retain` (default) or `Delete`.
    public var deleteClaimsWhenScaled: Bool

    public init(_ object: KubeObject) throws(ManifestError) {
        guard object.kind == "StatefulSet" else { throw ManifestError("\(object.kind) \(object.name) is not a StatefulSet") }
        name = object.name
        namespace = object.namespace
        guard let spec = try object.root.object("spec") else { throw object.root.error("spec", "required") }
        serviceName = try spec.string("serviceName") ?? ""
        replicas = try spec.int("replicas") ?? 1
        let policy = try spec.string("podManagementPolicy") ?? PodManagementPolicy.orderedReady.rawValue
        guard let podManagementPolicy = PodManagementPolicy(rawValue: policy) else {
            throw spec.error("podManagementPolicy", "expected OrderedReady or Parallel, got \(policy.debugDescription)")
        }
        self.podManagementPolicy = podManagementPolicy
        selector = try spec.object("selector")?.stringMap("matchLabels") ?? [:]
        guard let template = try spec.object("template") else { throw spec.error("template", "required") }
        self.template = try PodTemplate(template)
        volumeClaimTemplates = []
        for item in try spec.array("volumeClaimTemplates") {
            guard let metadata = try item.object("metadata") else { throw item.error("metadata", "required") }
            volumeClaimTemplates.append(try metadata.requiredString("name"))
        }
        deleteClaimsWhenScaled = try spec.object("persistentVolumeClaimRetentionPolicy")?.string("whenScaled") == "Delete"
    }
}

// MARK: - ServiceSpec

public struct ServiceSpec: Sendable {
    public struct Port: Sendable, Hashable {
        public var name: String?
        public var port: UInt16
        public var targetPort: PortReference
        /// `TCP`, `UDP` or `SCTP`.
        public var proto: String
    }

    public var name: String
    public var namespace: String?
    public var headless: Bool
    public var publishNotReadyAddresses: Bool
    public var selector: [String: String]
    public var ports: [Port]

    public init(_ object: KubeObject) throws(ManifestError) {
        guard object.kind == "Service" else { throw ManifestError("\(object.kind) \(object.name) is not a Service") }
        name = object.name
        namespace = object.namespace
        guard let spec = try object.root.object("spec") else { throw object.root.error("spec", "required") }
        headless = try spec.string("clusterIP") == "None"
        publishNotReadyAddresses = try spec.bool("publishNotReadyAddresses") ?? false
        selector = try spec.stringMap("selector")
        ports = []
        for item in try spec.array("ports") {
            guard let number = try item.int("port"), (1...65535).contains(number) else { throw item.error("port", "required, 1...65535") }
            let port = UInt16(number)
            ports.append(Port(name: try item.string("name"), port: port, targetPort: try item.portReference("targetPort") ?? .number(port),
                              proto: try item.string("protocol") ?? "TCP"))
        }
    }

    /// Whether a pod with these labels is behind this Service.
    public func selects(_ labels: [String: String]) -> Bool {
        !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
    }
}

// MARK: - KubeManifests

/// Every object of a rendered kustomization (or of plain files), with typed lookups.
public struct KubeManifests: Sendable {
    public let objects: [KubeObject]

    public init(objects: [KubeObject]) { self.objects = objects }

    /// Parses the JSON array `scripts/k8s-render --json` prints.
    public init(json: JSONValue) throws(ManifestError) {
        guard let items = json.arrayValue else { throw ManifestError("expected a JSON array of Kubernetes objects") }
        var objects: [KubeObject] = []
        for item in items { objects.append(try KubeObject(item)) }
        self.objects = objects
    }

    public func objects(ofKind kind: String) -> [KubeObject] { objects.filter { $0.kind == kind } }

    public func statefulSet(_ name: String) throws(ManifestError) -> StatefulSetSpec {
        guard let object = objects.first(where: { $0.kind == "StatefulSet" && $0.name == name }) else {
            throw ManifestError("no StatefulSet named \(name) (have: \(objects.map { "\($0.kind)/\($0.name)" }.joined(separator: ", ")))")
        }
        return try StatefulSetSpec(object)
    }

    public func services() throws(ManifestError) -> [ServiceSpec] {
        var out: [ServiceSpec] = []
        for object in objects(ofKind: "Service") { out.append(try ServiceSpec(object)) }
        return out
    }

    public func service(_ name: String) throws(ManifestError) -> ServiceSpec {
        guard let found = try services().first(where: { $0.name == name }) else { throw ManifestError("no Service named \(name)") }
        return found
    }
}
