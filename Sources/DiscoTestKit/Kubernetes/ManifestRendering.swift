import DiscoCore
import Foundation

// MARK: - Rendering manifests

extension KubeManifests {
    /// The repository this test support was built from (the directory holding Package.swift).
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appending(path: "Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// Why manifests cannot be rendered here (no python3 or PyYAML), or nil.
    public static func renderingUnavailableReason() async -> String? {
        guard Command.which("python3") != nil else { return "python3 is not installed" }
        guard let outcome = try? await Command.run("python3", ["-c", "import yaml"]), outcome.succeeded else {
            return "PyYAML is not installed (pip install pyyaml; scripts/test installs it)"
        }
        return nil
    }

    /// Renders a kustomization directory, or reads plain manifest files, with
    /// `scripts/k8s-render --json` (paths relative to the repository root).
    public static func render(_ paths: [String]) async throws -> KubeManifests {
        let absolute = paths.map { $0.hasPrefix("/") ? $0 : "\(repositoryRoot)/\($0)" }
        let outcome = try await Command.run("python3", ["\(repositoryRoot)/scripts/k8s-render", "--json"] + absolute)
        guard outcome.succeeded else {
            throw ManifestError("scripts/k8s-render \(paths.joined(separator: " ")) failed (\(outcome.status)): \(outcome.standardError)")
        }
        do {
            return try KubeManifests(json: try JSONValue.parse(outcome.standardOutput))
        } catch let error as JSONParseError {
            throw ManifestError("scripts/k8s-render printed JSON that does not parse: \(error)")
        }
    }

    public static func render(_ path: String) async throws -> KubeManifests { try await render([path]) }
}
