import DiscoTestKit
import Foundation
import Testing

/// Every manifest under k8s/, and what each kustomization renders to, passes
/// `kubernetes-validate --strict` for Kubernetes 1.33 (schemas bundled in the PyPI package, so
/// this runs offline). Where `kubectl` exists, scripts/k8s-render must render exactly what
/// `kubectl kustomize` renders.
@Suite struct ManifestSchemaTests {
    static let kubernetesVersion = "1.33.0"

    static func requireValidator() async throws {
        var reason: String?
        if Command.which("kubernetes-validate") == nil {
            reason = "kubernetes-validate is not installed (pip install kubernetes-validate; scripts/test installs it)"
        } else {
            reason = await KubeManifests.renderingUnavailableReason()
        }
        if let reason {
            print("manifest schema check skipped: \(reason)")
            try Test.cancel(Comment(rawValue: reason))
        }
    }

    /// Runs the validator; returns its output when it failed or warned (a kind it has no schema
    /// for is only a warning to it, and a typo in a kind must fail here).
    static func validate(_ path: String) async throws -> String? {
        let outcome = try await Command.run("kubernetes-validate", ["--strict", "-k", kubernetesVersion, path])
        let output = outcome.standardOutput + outcome.standardError
        return outcome.succeeded && !output.contains("WARN") && !output.contains("ERROR") ? nil : output
    }

    static func temporaryFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "k8s-schema-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func everyManifestFileIsValid() async throws {
        try await Self.requireValidator()
        let root = KubeManifests.repositoryRoot
        let files = try FileManager.default.subpathsOfDirectory(atPath: "\(root)/k8s")
            .filter { $0.hasSuffix(".yaml") && !$0.hasSuffix("kustomization.yaml") }.sorted()
        #expect(files.count >= 4)
        let outcome = try await Command.run("kubernetes-validate", ["--strict", "-k", Self.kubernetesVersion] + files.map { "\(root)/k8s/\($0)" })
        let output = outcome.standardOutput + outcome.standardError
        #expect(outcome.succeeded && !output.contains("WARN") && !output.contains("ERROR"), "\(output)")
        for file in files {
            #expect(output.contains("k8s/\(file) passed"), "no verdict for k8s/\(file): \(output)")
        }
    }

    @Test func everyKustomizationRendersToValidObjects() async throws {
        try await Self.requireValidator()
        for directory in try ManifestCheckTests.kustomizations() {
            let rendered = try await Command.check("python3", ["\(KubeManifests.repositoryRoot)/scripts/k8s-render", "\(KubeManifests.repositoryRoot)/\(directory)"])
            let path = try Self.temporaryFile(rendered)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(rendered.contains("kind: StatefulSet") || rendered.contains("kind: Deployment"), "\(directory) renders no workload")
            let failure = try await Self.validate(path)
            #expect(failure == nil, "\(directory) rendered: \(failure ?? "")")
        }
    }

    /// The check itself can fail: an unknown field and an unknown kind are both reported.
    @Test(arguments: [
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  clusterIp: None\n  ports:\n    - port: 80\n", "'clusterIp' was unexpected"),
        ("apiVersion: apps/v1\nkind: StatefullSet\nmetadata:\n  name: x\n", "Couldn't find schema"),
    ])
    func theValidatorRejectsMistakes(manifest: String, message: String) async throws {
        try await Self.requireValidator()
        let path = try Self.temporaryFile(manifest)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let failure = try await Self.validate(path)
        #expect(failure?.contains(message) == true, "\(failure ?? "passed")")
    }

    @Test func renderingMatchesKubectlKustomize() async throws {
        try await Self.requireValidator()
        guard let kubectl = Command.which("kubectl"),
              let version = try? await Command.run(kubectl, ["version", "--client"]), version.succeeded
        else {
            print("kubectl kustomize comparison skipped: kubectl is not installed; scripts/k8s-render's output is checked by the schema and rule tests only")
            try Test.cancel("kubectl is not installed")
        }
        let compare = """
            import sys, yaml
            ours, theirs = (list(yaml.safe_load_all(open(p))) for p in sys.argv[1:3])
            sys.exit(0 if ours == theirs else f"differs:\\n{yaml.safe_dump_all(ours)}\\n---- kubectl:\\n{yaml.safe_dump_all(theirs)}")
            """
        for directory in try ManifestCheckTests.kustomizations() {
            let absolute = "\(KubeManifests.repositoryRoot)/\(directory)"
            let ours = try Self.temporaryFile(try await Command.check("python3", ["\(KubeManifests.repositoryRoot)/scripts/k8s-render", absolute]))
            let theirs = try Self.temporaryFile(try await Command.check(kubectl, ["kustomize", absolute]))
            defer { [ours, theirs].forEach { try? FileManager.default.removeItem(atPath: $0) } }
            let outcome = try await Command.run("python3", ["-c", compare, ours, theirs])
            #expect(outcome.succeeded, "\(directory): \(outcome.standardError)")
        }
    }
}
