import DiscoCore
import DiscoTestKit
import Foundation
import Testing

/// Every manifest under k8s/ passes the project's rules (``ManifestRules``), every command line
/// in them passes the program's own `-validate`, and each rule catches the mistake it is for.
@Suite struct ManifestCheckTests {
    static func images() throws -> [HarnessImage] {
        [.disco(productsDirectory: try ExecutableRunner.productsDirectory().path)]
    }

    /// Every kustomization directory under k8s/, relative to the repository root.
    static func kustomizations() throws -> [String] {
        let root = KubeManifests.repositoryRoot
        let entries = try FileManager.default.subpathsOfDirectory(atPath: "\(root)/k8s")
        return entries.filter { $0.hasSuffix("kustomization.yaml") }.map { "k8s/" + ($0 as NSString).deletingLastPathComponent }.sorted()
    }

    static func rendered(_ path: String = "k8s/disco") async throws -> KubeManifests {
        if let reason = await KubeManifests.renderingUnavailableReason() {
            print("manifest check skipped: \(reason)")
            try Test.cancel(Comment(rawValue: reason))
        }
        return try await RenderedManifests.shared.render(path)
    }

    /// The Secrets the README says to create (certificate and key, API key file), for the
    /// sidecar manifests' `-validate`, which reads them.
    static func withSecrets<T>(_ body: (ObjectData) async throws -> T) async throws -> T {
        try await body(try await SidecarPods.objects())
    }

    static func commandLineFindings(_ manifests: KubeManifests, objects: ObjectData,
                                    podIP: String = ManifestRules.samplePodIP) async throws -> [ManifestRules.Finding] {
        try await ManifestRules.checkCommandLines(manifests, images: try Self.images(), programsDirectory: try ExecutableRunner.productsDirectory().path,
                                                  objects: objects, podIP: podIP)
    }

    @Test func everyKustomizationPassesTheRulesAndItsCommandLinesValidate() async throws {
        let directories = try Self.kustomizations()
        #expect(Set(directories).isSuperset(of: ["k8s/disco", "k8s/sidecar", "k8s/bigchaindb-gateway"]))
        try await Self.withSecrets { objects in
            for directory in directories {
                let manifests = try await Self.rendered(directory)
                #expect(try ManifestRules.check(manifests, images: try Self.images()).isEmpty, "\(directory)")
                let findings = try await Self.commandLineFindings(manifests, objects: objects)
                #expect(findings.isEmpty, "\(directory): \(findings)")
            }
        }
    }

    /// The same command lines serve pods of an IPv6-only (or dual-stack) cluster, whose
    /// `status.podIP` is an IPv6 address: `[$(POD_IP)]:4001`, never `$(POD_IP):4001`.
    @Test func everyKustomizationsCommandLinesValidateWithAnIPv6PodAddress() async throws {
        try await Self.withSecrets { objects in
            for directory in try Self.kustomizations() {
                let findings = try await Self.commandLineFindings(try await Self.rendered(directory), objects: objects, podIP: "fd00::12")
                #expect(findings.isEmpty, "\(directory): \(findings)")
            }
        }
    }

    /// The sidecar manifests: a native sidecar in the init containers (and nowhere else), its
    /// probes on its own ports, the readiness probe over HTTPS on the proxy port, and the client
    /// Service on that port, by number.
    @Test(arguments: [("k8s/sidecar", "app"), ("k8s/bigchaindb-gateway", "bdb")])
    func sidecarManifestsRunDiscoSidecarAsANativeSidecar(directory: String, name: String) async throws {
        let manifests = try await Self.rendered(directory)
        let template = try manifests.statefulSet(name).template
        let sidecar = try #require(template.sidecars.first)
        #expect(template.sidecars.count == 1 && sidecar.command == ["disco-sidecar"])
        #expect(template.containers.allSatisfy { $0.restartPolicy == nil && $0.command?.first != "disco-sidecar" })
        #expect(sidecar.readinessProbe?.scheme == .https && sidecar.readinessProbe?.port == .name("proxy"))
        #expect(sidecar.readinessProbe?.path == "/.sidecar/readyz")
        // By number: a native sidecar's named ports are resolved for Services only from Kubernetes 1.32.
        let proxyPort = try #require(sidecar.port(.name("proxy"))?.containerPort)
        #expect(try manifests.service(name).ports.map(\.targetPort).contains(.number(proxyPort)))
        #expect(template.allContainers.allSatisfy { $0.security.readOnlyRootFilesystem == true && $0.security.dropsAllCapabilities })
        #expect(template.objectVolumes.values.filter { $0.kind == .secret }.count == 2)
    }

    /// Mistakes in the sidecar manifests, each caught by its rule.
    static let sidecarMistakes: [(path: String, kind: String, name: String, value: JSONValue?, rule: ManifestRules.Rule, mentions: String)] = [
        ("spec.template.spec.containers.0.restartPolicy", "StatefulSet", "app", "Always", .restartPolicy, "only allowed on initContainers"),
        ("spec.template.spec.initContainers.0.restartPolicy", "StatefulSet", "app", "OnFailure", .restartPolicy, "can only be Always"),
        ("spec.template.spec.initContainers.0.readinessProbe.httpGet.port", "StatefulSet", "app", "https", .probePort, "port https is not a port"),
        ("spec.ports.0.targetPort", "Service", "app", "http", .servicePort, "targetPort http (TCP) is not a named port"),
        ("spec.ports.0.targetPort", "Service", "app", "proxy", .servicePort, "declared only by the native sidecar disco-sidecar"),
        ("spec.ports.0.targetPort", "Service", "app-internal", "disco", .servicePort, "only from 1.32; give its number, 4001"),
        ("spec.ports.0.targetPort", "Service", "app", 8444, .servicePort, "targetPort 8444 (TCP) is not a container port"),
        ("spec.podManagementPolicy", "StatefulSet", "app", "OrderedReady", .parallelPods, "needs podManagementPolicy: Parallel"),
        ("spec.publishNotReadyAddresses", "Service", "app-internal", false, .publishNotReady, "publishNotReadyAddresses must be true"),
        ("spec.replicas", "StatefulSet", "app", 5, .bootstrapExpectReplicas, "-bootstrap-expect=3 but replicas is 5"),
        ("spec.template.spec.initContainers.0.resources.limits.memory", "StatefulSet", "app", "256Mi", .memoryLimit,
         "holds less than disco-sidecar's measured peak"),
    ]

    @Test(arguments: sidecarMistakes.indices)
    func eachRuleCatchesItsMistakeInTheSidecarManifests(_ index: Int) async throws {
        let mistake = Self.sidecarMistakes[index]
        let manifests = try await Self.rendered("k8s/sidecar").setting(mistake.path, to: mistake.value, in: mistake.kind, named: mistake.name)
        let findings = try ManifestRules.check(manifests, images: try Self.images())
        #expect(findings.contains { $0.rule == mistake.rule && $0.description.contains(mistake.mentions) },
                "\(mistake.path) = \(mistake.value.map { "\($0)" } ?? "removed"): \(findings)")
    }

    /// disco-sidecar's own parser judges the sidecar containers' arguments, with the Secrets'
    /// files in place; without a Secret, the file it should hold is named.
    @Test(arguments: [
        ("k8s/bigchaindb-gateway", "bdb", "-limit-req=zone=per_client rate=10r/h", "unit must be r/s or r/m", true),
        ("k8s/bigchaindb-gateway", "bdb", "-tcp-proxy=27017", "LISTEN=UPSTREAM", true),
        ("k8s/sidecar", "app", "-upstream=http://127.0.0.1:9000", "keys.json", false),
    ])
    func sidecarCommandLinesAreCheckedByDiscoSidecarValidate(directory: String, name: String, argument: String, message: String,
                                                             secrets: Bool) async throws {
        let flag = String(argument.prefix { $0 != "=" })
        let args = try #require(try await Self.rendered(directory).statefulSet(name).template.sidecars.first?.args)
        let position = try #require(args.firstIndex { $0.hasPrefix(flag + "=") })
        let manifests = try await Self.rendered(directory).setting("spec.template.spec.initContainers.0.args.\(position)", to: .string(argument),
                                                                   in: "StatefulSet", named: name)
        let findings = try await Self.withSecrets { objects in
            try await Self.commandLineFindings(manifests, objects: secrets ? objects : ObjectData())
        }
        #expect(findings.count == 1 && findings[0].rule == .commandLine && findings[0].message.contains(message), "\(findings)")
        #expect(findings.first?.message.contains("disco-sidecar -validate exited 2") == true, "\(findings)")
    }

    /// One broken field per case, and the finding it must produce.
    static let mistakes: [(path: String, kind: String, name: String, value: JSONValue?, rule: ManifestRules.Rule, mentions: String)] = [
        ("spec.podManagementPolicy", "StatefulSet", "disco", "OrderedReady", .parallelPods, "needs podManagementPolicy: Parallel"),
        ("spec.podManagementPolicy", "StatefulSet", "disco", nil, .parallelPods, "with OrderedReady"),
        ("spec.publishNotReadyAddresses", "Service", "disco-internal", false, .publishNotReady, "publishNotReadyAddresses must be true"),
        ("spec.clusterIP", "Service", "disco-internal", nil, .publishNotReady, "is not a headless Service"),
        ("spec.replicas", "StatefulSet", "disco", 5, .bootstrapExpectReplicas, "-bootstrap-expect=3 but replicas is 5"),
        ("spec.template.spec.containers.0.restartPolicy", "StatefulSet", "disco", "Always", .restartPolicy, "only allowed on initContainers"),
        ("spec.template.spec.containers.0.readinessProbe.httpGet.port", "StatefulSet", "disco", "htpp", .probePort, "port htpp is not a port"),
        ("spec.template.spec.containers.0.livenessProbe.httpGet.port", "StatefulSet", "disco", 8080, .probePort, "port 8080 is not a port"),
        ("spec.ports.0.targetPort", "Service", "disco", "api", .servicePort, "targetPort api (TCP) is not a named port"),
        ("spec.template.spec.containers.0.args.5", "StatefulSet", "disco", "-disco-mode=dns-srv", .discoveryService, ""),
        ("spec.template.spec.containers.0.args.6", "StatefulSet", "disco",
         #"-disco-config={"name":"disco.$(POD_NAMESPACE).svc.cluster.local","service":"http"}"#, .discoveryService,
         "is not the headless Service disco-internal"),
        ("spec.template.spec.containers.0.args.6", "StatefulSet", "disco",
         #"-disco-config={"name":"disco-internal.$(POD_NAMESPACE).svc.cluster.local","service":"api"}"#, .discoveryService,
         #"service "api" is not a named port"#),
        // A full default event window (64 MiB of event data) took a node past 256Mi: OOM-killed, and on every restart.
        ("spec.template.spec.containers.0.resources.limits.memory", "StatefulSet", "disco", "256Mi", .memoryLimit,
         "the limit 256MiB holds less than discod's measured peak with a full event window of 64MiB"),
        ("spec.template.spec.containers.0.args.8", "StatefulSet", "disco", "-events-retain-bytes=0", .memoryLimit,
         "-events-retain-bytes=0 keeps every event in memory"),
    ]

    @Test(arguments: mistakes.indices)
    func eachRuleCatchesItsMistake(_ index: Int) async throws {
        let mistake = Self.mistakes[index]
        let manifests = try await Self.rendered().setting(mistake.path, to: mistake.value, in: mistake.kind, named: mistake.name)
        let findings = try ManifestRules.check(manifests, images: try Self.images())
        if mistake.mentions.isEmpty {
            #expect(findings.isEmpty, "an unchanged value must pass: \(findings)")
            return
        }
        #expect(findings.contains { $0.rule == mistake.rule && $0.description.contains(mistake.mentions) },
                "\(mistake.path) = \(mistake.value.map { "\($0)" } ?? "removed"): \(findings)")
    }

    @Test(arguments: [
        ("-bootstrap-expect=three", #"invalid value "three" for flag -bootstrap-expect"#),
        ("-disco-mode=dns-svr", "disco mode must be one of"),
        ("-http-adv-addr=$(POD_IPP):4001", "-http-adv-addr"),
        ("-raft-adv-addr=0.0.0.0:4002", "is not routable"),
    ])
    func commandLinesAreCheckedByTheProgramsOwnParser(argument: String, message: String) async throws {
        let args = try #require(try await Self.rendered().statefulSet("disco").template.containers[0].args)
        let position = try #require(args.firstIndex { $0.hasPrefix(String(argument.prefix { $0 != "=" })) })
        let manifests = try await Self.rendered().setting("spec.template.spec.containers.0.args.\(position)", to: .string(argument),
                                                           in: "StatefulSet", named: "disco")
        let findings = try await ManifestRules.checkCommandLines(manifests, images: try Self.images(),
                                                                 programsDirectory: try ExecutableRunner.productsDirectory().path)
        #expect(findings.count == 1 && findings[0].rule == .commandLine && findings[0].message.contains(message), "\(findings)")
        #expect(findings.first?.message.contains("discod -validate exited 2") == true)
    }

    /// disco-sidecar -validate opens the proxy's certificate files (as discod's opens -http-cert),
    /// so a certificate path that is wrong in a manifest is found before a pod starts.
    @Test func sidecarValidateNamesAMissingProxyCertificate() async throws {
        let args = try #require(try await Self.rendered("k8s/sidecar").statefulSet("app").template.sidecars.first?.args)
        let position = try #require(args.firstIndex { $0.hasPrefix("-proxy-cert=") })
        let manifests = try await Self.rendered("k8s/sidecar").setting("spec.template.spec.initContainers.0.args.\(position)",
                                                                       to: .string("-proxy-cert=/etc/disco/tls/missing.crt"), in: "StatefulSet", named: "app")
        let findings = try await Self.withSecrets { objects in try await Self.commandLineFindings(manifests, objects: objects) }
        #expect(findings.count == 1 && findings.contains { $0.rule == .commandLine && $0.message.contains("-proxy-cert ") && $0.message.contains("/missing.crt: cannot open") },
                "\(findings)")
    }
}

// MARK: - Rendering once

/// Each kustomization rendered once per test process (every case of these tests starts from the
/// same rendering; Python starting for each of them is most of their cost).
actor RenderedManifests {
    static let shared = RenderedManifests()
    private var rendered: [String: KubeManifests] = [:]

    func render(_ path: String) async throws -> KubeManifests {
        if let done = rendered[path] { return done }
        let manifests = try await KubeManifests.render(path)
        rendered[path] = manifests
        return manifests
    }
}
