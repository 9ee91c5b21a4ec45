import Foundation

// MARK: - ContainerLaunch

/// How one container of a pod is started on this machine: its command line and environment as
/// the kubelet computes them, inside the pod's network namespace, in a mount namespace of its own
/// with its volumes bound at their mount paths, the root filesystem read-only when the manifest
/// says so, and the manifest's user, group, supplementary group, no-new-privileges and dropped
/// capabilities applied by `setpriv` before the program runs.
///
/// The resulting process is the container's program itself (`ip netns exec`, `sh`, `setpriv`
/// and `env` all exec), so signals sent to it reach the program as they would in a container.
public struct ContainerLaunch: Sendable {
    /// The command line the program gets (command + args after `$(VAR)` expansion).
    public let commandLine: [String]
    /// The container's environment, in order.
    public let environment: [(name: String, value: String)]
    /// The pod's network namespace.
    public let namespace: String
    /// Shell lines that prepare the mount namespace, ending in `exec "$@"`.
    let script: [String]
    /// `setpriv ... --` (or nothing when the container runs as root).
    let privileges: [String]

    /// `ip` followed by these arguments starts the container.
    public var arguments: [String] { arguments(running: commandLine) }

    /// `ip` followed by these arguments runs `command` as the container's user, with its
    /// environment and mounts, in the pod (what `kubectl exec` does).
    public func arguments(running command: [String]) -> [String] {
        ["netns", "exec", namespace, "/bin/sh", "-c", script.joined(separator: "\n"), "sh"]
            + privileges + ["env", "-i"] + environment.map { "\($0.name)=\($0.value)" } + command
    }

    /// - Parameters:
    ///   - volumes: host directory for each volume name the container mounts.
    public init(container: ContainerSpec, pod: PodTemplate, identity: PodIdentity, namespace: String,
                image: HarnessImage, volumes: [String: String]) throws(ManifestError) {
        environment = try KubeletExpansion.environment(of: container, pod: identity,
                                                       base: image.baseEnvironment(hostname: identity.name))
        let entrypoint = container.command == nil && container.args == nil ? image.entrypoint + image.cmd : image.entrypoint
        commandLine = try KubeletExpansion.commandLine(of: container, environment: environment, entrypoint: entrypoint)
        let security = container.security.over(pod.security)

        var script = ["set -e"]
        for mount in container.volumeMounts {
            guard let source = volumes[mount.name] else {
                throw ManifestError("\(container.location): volumeMounts \(mount.name): no such volume in the pod (or not one the harness provides)")
            }
            script.append("mount --bind \(Self.quote(source)) \(Self.quote(mount.mountPath))")
            if mount.readOnly { script.append("mount -o remount,bind,ro \(Self.quote(mount.mountPath))") }
        }
        if security.readOnlyRootFilesystem == true { script.append("mount -o remount,bind,ro /") }

        var privileges: [String] = []
        if let user = security.runAsUser {
            privileges = ["setpriv", "--reuid=\(user)", "--regid=\(security.runAsGroup ?? user)"]
            privileges.append(security.fsGroup.map { "--groups=\($0)" } ?? "--clear-groups")
            if security.allowPrivilegeEscalation == false { privileges.append("--no-new-privs") }
            if security.dropsAllCapabilities { privileges += ["--inh-caps=-all", "--bounding-set=-all"] }
            privileges.append("--")
        } else if security.runAsNonRoot == true {
            throw ManifestError("\(container.location): runAsNonRoot is set but no runAsUser: the harness cannot tell which user the image runs as")
        }
        script.append("exec \"$@\"")
        self.script = script
        self.privileges = privileges
        self.namespace = namespace
    }

    /// A shell word that stands for `text` exactly.
    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
