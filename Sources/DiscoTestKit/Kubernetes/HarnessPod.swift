import Foundation
import Synchronization

// MARK: - HarnessPod

/// One pod: its network namespace and its containers, run the way the kubelet runs them.
///
/// Start order: init containers one after another (a plain one must exit 0; a native sidecar,
/// `restartPolicy: Always`, must have started: its startup probe passed, or it runs and has
/// none), then every main container at once. A container that exits is started again after the
/// kubelet's back-off (10 s doubling, scaled by ``KubeletSettings/timeScale``); a failed startup
/// or liveness probe restarts it. The pod is ready when every main container and sidecar is.
/// ``terminate()`` stops main containers first, then sidecars in reverse order, within the
/// pod's grace period, then kills what is left.
public final class HarnessPod: Sendable {
    public enum Phase: String, Sendable {
        case starting, running, terminating, terminated
    }

    /// How one container ended when the pod was deleted.
    public struct Termination: Sendable, CustomStringConvertible {
        public let container: String
        /// The exit status (128 + signal when a signal ended it); nil when it was not running.
        public let status: Int32?
        /// Whether the grace period ran out and the container was killed.
        public let killed: Bool
        public let elapsed: Duration
        public var description: String {
            "\(container): \(status.map { "exit \($0)" } ?? "not running")\(killed ? " (killed after the grace period)" : "") after \(elapsed)"
        }
    }

    public let name: String
    public let namespace: String
    public let sandbox: PodNetwork.Sandbox
    public let template: PodTemplate
    public let identity: PodIdentity
    /// `spec.subdomain` (a StatefulSet's `serviceName`): with the pod's hostname, its DNS name.
    public let subdomain: String?
    /// Host directory of each volume (claims and emptyDirs; emptyDirs stay until the harness
    /// shuts down, so a test can look at them after the pod is gone).
    public let volumes: [String: String]
    let launches: [String: ContainerLaunch]
    let settings: KubeletSettings
    let onChange: @Sendable () async -> Void
    let state = Mutex(State())

    struct ContainerState {
        var process: ChildProcess?
        var startedAt: ContinuousClock.Instant?
        var probes: [ProbeTracker] = []
        var restarts = 0
        var restartAt: ContinuousClock.Instant?
        var backoff: Duration = .zero
        var earlierLogs = ""
    }

    struct State {
        var phase = Phase.starting
        var containers: [String: ContainerState] = [:]
        var initIndex = 0
        var ready = false
        var kubelet: Task<Void, Never>?
    }

    public var ip: String { sandbox.ip }
    /// ``ip`` as the host of a URL or `host:port`: an IPv6 address in brackets.
    public var authorityHost: String { ip.contains(":") ? "[\(ip)]" : ip }

    init(name: String, namespace: String, sandbox: PodNetwork.Sandbox, template: PodTemplate, identity: PodIdentity, subdomain: String?,
         volumes: [String: String], launches: [String: ContainerLaunch], settings: KubeletSettings, onChange: @escaping @Sendable () async -> Void) {
        self.name = name
        self.namespace = namespace
        self.sandbox = sandbox
        self.template = template
        self.identity = identity
        self.subdomain = subdomain
        self.volumes = volumes
        self.launches = launches
        self.settings = settings
        self.onChange = onChange
        state.withLock { state in
            for container in template.allContainers { state.containers[container.name] = ContainerState() }
        }
    }

    // MARK: Observing

    public var phase: Phase { state.withLock { $0.phase } }
    /// Ready as the kubelet reports it (every main container and sidecar ready, not terminating).
    public var isReady: Bool { state.withLock { $0.ready } }

    /// How often a container was restarted (exits, failed startup or liveness probes).
    public func restarts(_ container: String) -> Int { state.withLock { $0.containers[container]?.restarts ?? 0 } }
    public var totalRestarts: Int { state.withLock { $0.containers.values.reduce(0) { $0 + $1.restarts } } }

    /// The running process of a container, if any (to send it signals).
    public func process(_ container: String) -> ChildProcess? { state.withLock { $0.containers[container]?.process } }

    /// Everything a container wrote, earlier instances included.
    public func logs(_ container: String) -> String {
        state.withLock { state in
            guard let entry = state.containers[container] else { return "" }
            return entry.earlierLogs + (entry.process?.output ?? "")
        }
    }

    /// Every container's recent output, for failure messages.
    public func describe(tail: Int = 4000) -> String {
        let header = "--- pod \(name) (\(ip), \(phase.rawValue), \(isReady ? "ready" : "not ready"), restarts \(totalRestarts))"
        return ([header] + template.allContainers.map { "[\($0.name)]\n" + String(logs($0.name).suffix(tail)) }).joined(separator: "\n")
    }

    // MARK: Starting

    /// Starts the pod's kubelet loop (owned by the pod; stopped by ``terminate()``).
    func start() {
        let task = Task { [self] in await runKubelet() }
        state.withLock { $0.kubelet = task }
    }

    func launch(_ container: ContainerSpec) throws {
        guard let launch = launches[container.name], let ipTool = Command.which("ip") else {
            throw PodNetwork.Failure(description: "pod \(name): cannot launch \(container.name)")
        }
        let process = ChildProcess(name: "\(name)/\(container.name)", executable: ipTool, arguments: launch.arguments)
        try process.start(environment: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        let now = ContinuousClock.now
        state.withLock { state in
            var entry = state.containers[container.name] ?? ContainerState()
            if let previous = entry.process { entry.earlierLogs += previous.output + "\n--- restarted\n" }
            entry.process = process
            entry.startedAt = now
            entry.restartAt = nil
            entry.probes = container.probes.map { ProbeTracker(kind: $0.kind, spec: $0.probe, containerStarted: now, timeScale: settings.timeScale) }
            state.containers[container.name] = entry
        }
    }

    // MARK: Terminating

    /// Deletes the pod gracefully: SIGTERM to the main containers, then to the sidecars in
    /// reverse order, SIGKILL to whatever still runs when `terminationGracePeriodSeconds` (or
    /// `grace`) is over. Returns how each container ended.
    @discardableResult
    public func terminate(grace: Duration? = nil) async -> [Termination] {
        let kubelet = state.withLock { state -> Task<Void, Never>? in
            guard state.phase != .terminating, state.phase != .terminated else { return nil }
            state.phase = .terminating
            state.ready = false
            return state.kubelet
        }
        kubelet?.cancel()
        await kubelet?.value
        await onChange()
        let began = ContinuousClock.now
        let deadline = began + (grace ?? .seconds(template.terminationGracePeriodSeconds))
        var results: [Termination] = []
        let groups = [template.containers] + template.sidecars.reversed().map { [$0] }
        for group in groups {
            let processes = group.compactMap { container in process(container.name).map { (container.name, $0) } }
            processes.forEach { $0.1.send(SIGTERM) }
            for (container, process) in processes {
                let remaining = deadline - ContinuousClock.now
                var killed = false
                if process.exitStatus == nil { _ = try? await process.waitForExit(timeout: max(remaining, .milliseconds(1))) }
                if process.exitStatus == nil {
                    killed = true
                    process.send(SIGKILL)
                    // Returns once it is reaped; a starved machine can take seconds for that.
                    _ = try? await process.waitForExit(timeout: .seconds(60))
                }
                results.append(Termination(container: container, status: process.exitStatus, killed: killed, elapsed: ContinuousClock.now - began))
            }
        }
        state.withLock { $0.phase = .terminated }
        return results
    }

    /// Kills every container at once (a forced delete, or the harness shutting down).
    func kill() async {
        let (kubelet, processes) = state.withLock { state -> (Task<Void, Never>?, [ChildProcess]) in
            state.phase = .terminated
            state.ready = false
            return (state.kubelet, state.containers.values.compactMap(\.process))
        }
        kubelet?.cancel()
        processes.forEach { $0.send(SIGKILL) }
        for process in processes { _ = try? await process.waitForExit(timeout: .seconds(60)) }
        await kubelet?.value
    }
}

// MARK: - KubeletSettings

/// How the harness's kubelet paces itself.
public struct KubeletSettings: Sendable {
    /// Multiplies probe delays and periods and restart back-offs (1 = as written).
    public var timeScale: Double
    /// How often the kubelet loop looks at its containers.
    public var tick: Duration

    public init(timeScale: Double = 0.1, tick: Duration = .milliseconds(50)) {
        self.timeScale = timeScale
        self.tick = tick
    }
}
