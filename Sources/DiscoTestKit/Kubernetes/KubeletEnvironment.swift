// MARK: - PodIdentity

/// What the downward API tells a pod about itself.
public struct PodIdentity: Sendable, Hashable {
    public var name: String
    public var namespace: String
    public var uid: String
    public var ip: String
    public var hostIP: String
    public var nodeName: String
    public var labels: [String: String]
    public var serviceAccountName: String

    public init(name: String, namespace: String, uid: String, ip: String, hostIP: String, nodeName: String = "harness-node",
                labels: [String: String] = [:], serviceAccountName: String = "default") {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.ip = ip
        self.hostIP = hostIP
        self.nodeName = nodeName
        self.labels = labels
        self.serviceAccountName = serviceAccountName
    }

    /// The value of a `fieldRef.fieldPath`, or nil for a path the downward API does not offer.
    public func field(_ path: String) -> String? {
        switch path {
        case "metadata.name": return name
        case "metadata.namespace": return namespace
        case "metadata.uid": return uid
        case "spec.nodeName": return nodeName
        case "spec.serviceAccountName": return serviceAccountName
        case "status.podIP", "status.podIPs": return ip
        case "status.hostIP", "status.hostIPs": return hostIP
        default:
            let prefix = "metadata.labels['"
            if path.hasPrefix(prefix), path.hasSuffix("']") {
                return labels[String(path.dropFirst(prefix.count).dropLast(2))] ?? ""
            }
            return nil
        }
    }
}

// MARK: - KubeletExpansion

/// How the kubelet fills in `$(VAR)` in `command`, `args` and `env` values: a defined variable is
/// replaced, an undefined one is left as written, `$$` is a literal `$`, and any other `$` stays.
public enum KubeletExpansion {
    public static func expand(_ text: String, _ lookup: (String) -> String?) -> String {
        let characters = Array(text)
        var out = ""
        var index = 0
        while index < characters.count {
            let character = characters[index]
            guard character == "$", index + 1 < characters.count else {
                out.append(character)
                index += 1
                continue
            }
            let next = characters[index + 1]
            if next == "$" {
                out.append("$")
                index += 2
            } else if next == "(", let close = characters[(index + 2)...].firstIndex(of: ")") {
                let name = String(characters[(index + 2)..<close])
                out += lookup(name) ?? "$(\(name))"
                index = close + 1
            } else {
                out.append("$")
                out.append(next)
                index += 2
            }
        }
        return out
    }

    /// A container's environment in order: `env` entries (each may use the ones before it, and
    /// `base`) with downward-API fields filled in from `pod`. `base` comes first (the image's
    /// variables and `HOSTNAME`).
    public static func environment(of container: ContainerSpec, pod: PodIdentity,
                                   base: [(name: String, value: String)]) throws(ManifestError) -> [(name: String, value: String)] {
        var result = base
        func lookup(_ name: String) -> String? { result.last { $0.name == name }?.value }
        for (name, source) in container.env {
            let value: String
            switch source {
            case .value(let text):
                value = expand(text, lookup)
            case .field(let path):
                guard let field = pod.field(path) else {
                    throw ManifestError("\(container.location): env \(name): fieldRef \(path) is not a downward-API field the harness knows")
                }
                value = field
            case .unsupported(let kind):
                throw ManifestError("\(container.location): env \(name): valueFrom.\(kind) is not provided by the harness")
            }
            result.removeAll { $0.name == name }
            result.append((name, value))
        }
        return result
    }

    /// `command` + `args` after expansion; `entrypoint` stands in for the image's ENTRYPOINT when
    /// the container gives no `command` (and the image's CMD is not used once `args` is given).
    public static func commandLine(of container: ContainerSpec, environment: [(name: String, value: String)],
                                   entrypoint: [String]) throws(ManifestError) -> [String] {
        func lookup(_ name: String) -> String? { environment.last { $0.name == name }?.value }
        let command = container.command ?? entrypoint
        guard !command.isEmpty else {
            throw ManifestError("\(container.location): no command, and the image \(container.image) has no entrypoint the harness knows")
        }
        return (command + (container.args ?? [])).map { expand($0, lookup) }
    }
}
