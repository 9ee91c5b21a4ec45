import Foundation
import Synchronization

// MARK: - The StatefulSet controller's moves

extension KubeHarness {
    /// Creates the StatefulSet's pods 0..<replicas: all at once with `Parallel`, else one at a
    /// time, each waiting for the one before to be ready (`OrderedReady`).
    @discardableResult
    public func apply(_ statefulSet: StatefulSetSpec, readyTimeout: Duration = .seconds(120)) async throws -> [HarnessPod] {
        try await createPods(statefulSet, ordinals: Array(0..<statefulSet.replicas), readyTimeout: readyTimeout)
    }

    /// Creates one pod: a new namespace with a new IP, its claims (kept from an earlier pod of
    /// the same name), resolv.conf and hosts files, and the kubelet loop.
    @discardableResult
    public func createPod(_ statefulSet: StatefulSetSpec, ordinal: Int) async throws -> HarnessPod {
        let name = "\(statefulSet.name)-\(ordinal)"
        let podNamespace = statefulSet.namespace ?? namespace
        guard pod(name) == nil else { throw ManifestError("pod \(name) exists already; delete it first") }
        let template = statefulSet.template
        let sandbox = try await network.addSandbox(label: name)
        do {
            let labels = template.labels.merging(["statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": String(ordinal)],
                                                 uniquingKeysWith: { _, new in new })
            let identity = PodIdentity(name: name, namespace: podNamespace, uid: UUID().uuidString.lowercased(), ip: sandbox.ip,
                                       hostIP: network.gateway, labels: labels)
            try writeEtcFiles(sandbox: sandbox, identity: identity, subdomain: statefulSet.serviceName)
            let volumes = try prepareVolumes(statefulSet, podName: name)
            var launches: [String: ContainerLaunch] = [:]
            for container in template.allContainers {
                let reference = HarnessImage.baseName(of: container.image)
                guard let image = images[reference] else {
                    throw ManifestError("\(container.location): image \(container.image) is not one the harness knows (have: \(images.keys.sorted()))")
                }
                launches[container.name] = try ContainerLaunch(container: container, pod: template, identity: identity,
                                                               namespace: sandbox.namespace, image: image, volumes: volumes)
            }
            let pod = HarnessPod(name: name, namespace: podNamespace, sandbox: sandbox, template: template, identity: identity,
                                 subdomain: statefulSet.serviceName, volumes: volumes, launches: launches, settings: settings,
                                 onChange: { [weak self] in await self?.refreshDNS() })
            state.withLock { $0.pods[name] = pod }
            await refreshDNS()
            pod.start()
            return pod
        } catch {
            await network.removeSandbox(sandbox)
            throw error
        }
    }

    /// Deletes a pod gracefully (see ``HarnessPod/terminate(grace:)``); its claims stay.
    @discardableResult
    public func deletePod(_ name: String, grace: Duration? = nil) async -> [HarnessPod.Termination] {
        guard let pod = pod(name) else { return [] }
        let terminations = await pod.terminate(grace: grace)
        await network.removeSandbox(pod.sandbox)
        state.withLock { _ = $0.pods.removeValue(forKey: name) }
        await refreshDNS()
        return terminations
    }

    /// Deletes the pods (all at once, as `kubectl delete pod -l ...` does) and waits until they are gone.
    @discardableResult
    public func deletePods(_ names: [String]) async -> [String: [HarnessPod.Termination]] {
        await withTaskGroup(of: (String, [HarnessPod.Termination]).self) { group in
            for name in names { group.addTask { [self] in (name, await deletePod(name)) } }
            var out: [String: [HarnessPod.Termination]] = [:]
            for await (name, terminations) in group { out[name] = terminations }
            return out
        }
    }

    /// A rolling update: from the highest ordinal down, delete the pod, create it again (new IP,
    /// same claims) and wait until it is ready before the next. Returns how each old pod ended.
    public func rollingRestart(_ statefulSet: StatefulSetSpec, readyTimeout: Duration = .seconds(120),
                               between: @Sendable (HarnessPod) async throws -> Void = { _ in }) async throws -> [String: [HarnessPod.Termination]] {
        var ended: [String: [HarnessPod.Termination]] = [:]
        for ordinal in current(statefulSet).sorted(by: >) {
            let name = "\(statefulSet.name)-\(ordinal)"
            ended[name] = await deletePod(name)
            let pod = try await createPod(statefulSet, ordinal: ordinal)
            try await waitUntilReady([pod], timeout: readyTimeout)
            try await between(pod)
        }
        return ended
    }

    /// `kubectl scale`: new ordinals are created (all at once with `Parallel`), the highest ones
    /// deleted; with `whenScaled: Delete` the deleted pods' claims go too.
    @discardableResult
    public func scale(_ statefulSet: StatefulSetSpec, to replicas: Int, readyTimeout: Duration = .seconds(120)) async throws -> [HarnessPod] {
        let existing = current(statefulSet)
        let count = existing.count
        if replicas > count {
            return try await createPods(statefulSet, ordinals: Array(count..<replicas), readyTimeout: readyTimeout)
        }
        let doomed = existing.filter { $0 >= replicas }.sorted(by: >)
        if statefulSet.podManagementPolicy == .parallel {
            await deletePods(doomed.map { "\(statefulSet.name)-\($0)" })
        } else {
            for ordinal in doomed { await deletePod("\(statefulSet.name)-\(ordinal)") }
        }
        if statefulSet.deleteClaimsWhenScaled {
            for ordinal in doomed {
                for claim in statefulSet.volumeClaimTemplates {
                    try? FileManager.default.removeItem(atPath: claimDirectory(claim, podName: "\(statefulSet.name)-\(ordinal)"))
                }
            }
        }
        return []
    }

    /// Waits until every pod is ready, failing early with every pod's output when a pod stops.
    public func waitUntilReady(_ pods: [HarnessPod], timeout: Duration = .seconds(120)) async throws {
        do {
            try await waitUntil("pods \(pods.map(\.name).joined(separator: ", ")) to be ready", timeout: timeout, pollEvery: .milliseconds(50)) {
                pods.allSatisfy(\.isReady)
            }
        } catch let timeout as WaitTimeout {
            throw ManifestError("\(timeout)\n\(describe())")
        }
    }

    // MARK: Parts

    /// The ordinals of the StatefulSet's pods that exist.
    func current(_ statefulSet: StatefulSetSpec) -> [Int] {
        pods.compactMap { pod in
            guard pod.name.hasPrefix(statefulSet.name + "-") else { return nil }
            return Int(pod.name.dropFirst(statefulSet.name.count + 1))
        }
    }

    private func createPods(_ statefulSet: StatefulSetSpec, ordinals: [Int], readyTimeout: Duration) async throws -> [HarnessPod] {
        var created: [HarnessPod] = []
        for ordinal in ordinals {
            let pod = try await createPod(statefulSet, ordinal: ordinal)
            created.append(pod)
            if statefulSet.podManagementPolicy == .orderedReady { try await waitUntilReady([pod], timeout: readyTimeout) }
        }
        return created
    }

    func claimDirectory(_ claim: String, podName: String) -> String { "\(root)/claims/\(claim)-\(podName)" }

    /// Host directories for the pod's volumes: one per claim (kept across pod instances), a
    /// fresh one per emptyDir, and one per Secret or ConfigMap volume holding its files. Owned as
    /// the kubelet leaves them for `fsGroup`.
    private func prepareVolumes(_ statefulSet: StatefulSetSpec, podName: String) throws -> [String: String] {
        var volumes: [String: String] = [:]
        let fsGroup = statefulSet.template.security.fsGroup
        for claim in statefulSet.volumeClaimTemplates {
            volumes[claim] = claimDirectory(claim, podName: podName)
        }
        for (name, kind) in statefulSet.template.volumes where kind == "emptyDir" {
            volumes[name] = "\(root)/pods/\(podName)-\(UUID().uuidString.prefix(8))/\(name)"
        }
        // Secret and ConfigMap volumes: the object's files, written fresh for each pod instance.
        let podDirectory = "\(root)/pods/\(podName)-\(UUID().uuidString.prefix(8))-objects"
        for (name, projected) in statefulSet.template.objectVolumes.sorted(by: { $0.key < $1.key }) {
            do {
                try objectData.materialize(projected, into: "\(podDirectory)/\(name)", group: fsGroup)
            } catch let error as ManifestError {
                throw ManifestError("pod \(podName): volume \(name): \(error)")
            }
            volumes[name] = "\(podDirectory)/\(name)"
        }
        for directory in volumes.values {
            if statefulSet.template.objectVolumes.keys.contains(where: { volumes[$0] == directory }) { continue }
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                var attributes: [FileAttributeKey: Any] = [.posixPermissions: fsGroup == nil ? 0o777 : 0o2775]
                if let fsGroup { attributes[.groupOwnerAccountID] = fsGroup }
                try FileManager.default.setAttributes(attributes, ofItemAtPath: directory)
            }
        }
        // Mount points must exist to bind over them (an empty directory is left on the host).
        for mount in statefulSet.template.allContainers.flatMap(\.volumeMounts) where !FileManager.default.fileExists(atPath: mount.mountPath) {
            try FileManager.default.createDirectory(atPath: mount.mountPath, withIntermediateDirectories: true)
        }
        return volumes
    }

    /// `/etc/netns/<namespace>/resolv.conf` and `hosts`, which `ip netns exec` puts in place of
    /// the host's: cluster DNS with the pod's search path, and the pod's own names.
    private func writeEtcFiles(sandbox: PodNetwork.Sandbox, identity: PodIdentity, subdomain: String?) throws {
        let directory = "/etc/netns/\(sandbox.namespace)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try dns.resolvConf(namespace: identity.namespace).write(toFile: directory + "/resolv.conf", atomically: true, encoding: .utf8)
        var names = [identity.name]
        if let subdomain, !subdomain.isEmpty {
            names.insert("\(identity.name).\(subdomain).\(identity.namespace).svc.\(dns.zone)", at: 0)
        }
        let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\(identity.ip)\t\(names.joined(separator: " "))\n"
        try hosts.write(toFile: directory + "/hosts", atomically: true, encoding: .utf8)
    }
}
