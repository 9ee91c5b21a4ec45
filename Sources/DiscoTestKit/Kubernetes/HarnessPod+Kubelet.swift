import DiscoNet
import Foundation
import Synchronization

// MARK: - The pod's kubelet loop

extension HarnessPod {
    func runKubelet() async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            startNextContainers()
            restartExitedContainers(now)
            await runDueProbes(now)
            if updateReadiness() { await onChange() }
            try? await Task.sleep(for: settings.tick)
        }
    }

    // MARK: Start order

    /// Init containers one at a time, then all main containers.
    private func startNextContainers() {
        let (index, phase) = state.withLock { ($0.initIndex, $0.phase) }
        guard phase == .starting else { return }
        if index < template.initContainers.count {
            let container = template.initContainers[index]
            let entry = state.withLock { $0.containers[container.name] }
            if entry?.process == nil, entry?.restartAt == nil {
                launchRecordingFailure(container)
            } else if container.isNativeSidecar ? isStarted(container) : entry?.process?.exitStatus == 0 {
                state.withLock { $0.initIndex += 1 }
            }
            return
        }
        for container in template.containers { launchRecordingFailure(container) }
        state.withLock { $0.phase = .running }
    }

    private func launchRecordingFailure(_ container: ContainerSpec) {
        do {
            try launch(container)
        } catch {
            state.withLock { $0.containers[container.name]?.earlierLogs += "harness: cannot start the container: \(error)\n" }
        }
    }

    /// Running, and its startup probe (if any) has passed.
    func isStarted(_ container: ContainerSpec) -> Bool {
        state.withLock { state in
            guard let entry = state.containers[container.name], entry.process?.isRunning == true else { return false }
            return entry.probes.first { $0.kind == .startup }.map { $0.verdict == .passing } ?? true
        }
    }

    // MARK: Restarts

    /// A container that ended is started again after the back-off (a plain init container that
    /// exited 0 is done).
    private func restartExitedContainers(_ now: ContinuousClock.Instant) {
        for container in template.allContainers {
            let isPlainInit = !container.isNativeSidecar && template.initContainers.contains { $0.name == container.name }
            let launchNow = state.withLock { state -> Bool in
                guard state.phase == .starting || state.phase == .running, var entry = state.containers[container.name] else { return false }
                if let process = entry.process, let status = process.exitStatus {
                    if isPlainInit, status == 0 { return false }
                    entry.restarts += 1
                    entry.backoff = entry.backoff == .zero ? .seconds(10) : min(entry.backoff * 2, .seconds(300))
                    entry.restartAt = now + entry.backoff * settings.timeScale
                    entry.earlierLogs += process.output + "\n--- exited with \(status); restart \(entry.restarts)\n"
                    entry.process = nil
                    state.containers[container.name] = entry
                }
                guard entry.process == nil, let at = entry.restartAt else { return false }
                return at <= now
            }
            if launchNow { launchRecordingFailure(container) }
        }
    }

    // MARK: Probes

    private struct DueProbe: Sendable {
        let container: String
        let index: Int
        let path: String
        let port: UInt16?
        let scheme: ProbeSpec.Scheme
        let timeout: Duration
    }

    /// Runs every probe that is due, all at once; startup failures and liveness failures stop
    /// the container (it is then restarted like any container that ended).
    private func runDueProbes(_ now: ContinuousClock.Instant) async {
        var due: [DueProbe] = []
        for container in template.allContainers {
            let started = isStarted(container)
            state.withLock { state in
                guard let entry = state.containers[container.name], entry.process?.isRunning == true else { return }
                for (index, probe) in entry.probes.enumerated() where probe.isDue(at: now) {
                    guard probe.kind == .startup ? probe.verdict == .unknown : started else { continue }
                    due.append(DueProbe(container: container.name, index: index, path: probe.spec.path,
                                        port: Self.port(of: probe.spec, in: container), scheme: probe.spec.scheme,
                                        timeout: .seconds(probe.spec.timeoutSeconds)))
                }
            }
        }
        guard !due.isEmpty else { return }
        let results = await withTaskGroup(of: (DueProbe, Bool).self) { group in
            for probe in due {
                group.addTask { [ip] in
                    guard let port = probe.port else { return (probe, false) }
                    let status: Int?
                    switch probe.scheme {
                    case .http: status = await LoopbackProbe.httpGet(host: ip, port: port, path: probe.path, timeout: probe.timeout)?.status
                    case .https: status = await KubeletHTTPSProbe.status(host: ip, port: port, path: probe.path, timeout: probe.timeout)
                    }
                    return (probe, status.map { (200..<400).contains($0) } ?? false)
                }
            }
            var collected: [(DueProbe, Bool)] = []
            for await result in group { collected.append(result) }
            return collected
        }
        let finished = ContinuousClock.now
        for (probe, success) in results {
            let failed = state.withLock { state -> ChildProcess? in
                guard var entry = state.containers[probe.container], probe.index < entry.probes.count else { return nil }
                let verdict = entry.probes[probe.index].record(success: success, at: finished)
                let kind = entry.probes[probe.index].kind
                state.containers[probe.container] = entry
                guard verdict == .failed, kind != .readiness else { return nil }
                state.containers[probe.container]?.earlierLogs += "harness: \(kind.rawValue) probe failed; stopping the container\n"
                return entry.process
            }
            if let failed {
                failed.send(SIGTERM)
                if (try? await failed.waitForExit(timeout: .seconds(template.terminationGracePeriodSeconds))) == nil {
                    failed.send(SIGKILL)
                }
            }
        }
    }

    /// The port a probe connects to: a named port of the container, or the number as written
    /// (the kubelet probes undeclared numbers too; the manifest rules do not allow them).
    static func port(of probe: ProbeSpec, in container: ContainerSpec) -> UInt16? {
        if let declared = container.port(probe.port) { return declared.containerPort }
        if case .number(let number) = probe.port { return number }
        return nil
    }

    // MARK: Readiness

    /// Recomputes readiness; true when it changed.
    private func updateReadiness() -> Bool {
        let members = template.containers + template.sidecars
        let ready = state.withLock { $0.phase == .running } && members.allSatisfy { container in
            guard isStarted(container) else { return false }
            return state.withLock { state in
                state.containers[container.name]?.probes.first { $0.kind == .readiness }.map { $0.verdict == .passing } ?? true
            }
        }
        return state.withLock { state in
            guard state.phase == .running || state.phase == .starting, state.ready != ready else { return false }
            state.ready = ready
            return true
        }
    }
}

// MARK: - HTTPS probes

/// `scheme: HTTPS` probes, as the kubelet sends them: TLS without verifying the certificate,
/// one request per connection.
enum KubeletHTTPSProbe {
    /// Each probe asks for `Connection: close`, so it connects anew as the kubelet's do; the client
    /// runs on the shared event loops, so there is nothing to shut down.
    static let client: HTTPClient = {
        var configuration = HTTPClientConfiguration(connectTimeout: .seconds(2), requestTimeout: .seconds(5))
        if let insecure = try? TLSTransportFactory.client(TLSConfiguration(verifyPeer: false, label: "kubelet probe")) {
            configuration.httpsTransport = insecure
        }
        return HTTPClient(configuration: configuration)
    }()

    /// The status `GET https://host:port/path` answered within `timeout`, or nil.
    static func status(host: String, port: UInt16, path: String, timeout: Duration) async -> Int? {
        var headers = HTTPHeaders()
        headers.add(name: "Connection", value: "close")
        let request = HTTPClientRequest(method: "GET", url: "https://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)", headers: headers, body: [])
        return try? await client.send(request, timeout: timeout).status
    }
}
