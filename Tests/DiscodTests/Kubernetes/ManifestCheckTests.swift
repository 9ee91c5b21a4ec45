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
        return try await KubeManifests.render(path)
    }

    @Test func everyKustomizationPassesTheRulesAndItsCommandLinesValidate() async throws {
        let directories = try Self.kustomizations()
        #expect(directories.contains("k8s/disco"))
        for directory in directories {
            let manifests = try await Self.rendered(directory)
            #expect(try ManifestRules.check(manifests, images: try Self.images()).isEmpty, "\(directory)")
            let findings = try await ManifestRules.checkCommandLines(manifests, images: try Self.images(),
                                                                     programsDirectory: try ExecutableRunner.productsDirectory().path)
            #expect(findings.isEmpty, "\(directory): \(findings)")
        }
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
}
