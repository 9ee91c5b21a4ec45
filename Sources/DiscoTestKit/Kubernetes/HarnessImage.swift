import Foundation

// MARK: - HarnessImage

/// What the harness runs for a container image: the image's ENTRYPOINT and CMD, its environment,
/// and the host directories that hold its programs (put first on `PATH`, so `command: ["discod"]`
/// finds the binary under test as it would find `/usr/local/bin/discod` in the image).
public struct HarnessImage: Sendable {
    /// The image reference without tag or digest, as the manifests name it (`disco`).
    public var name: String
    public var entrypoint: [String]
    public var cmd: [String]
    public var programDirectories: [String]
    public var environment: [(name: String, value: String)]

    public init(name: String, entrypoint: [String], cmd: [String] = [], programDirectories: [String],
                environment: [(name: String, value: String)] = []) {
        self.name = name
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.programDirectories = programDirectories
        self.environment = environment
    }

    /// The default `PATH` of a Debian-based image.
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The variables a container of this image starts with (before the pod's `env`).
    func baseEnvironment(hostname: String) -> [(name: String, value: String)] {
        let path = (programDirectories + [Self.defaultPath]).joined(separator: ":")
        return [("PATH", path), ("HOSTNAME", hostname)] + environment.filter { $0.name != "PATH" && $0.name != "HOSTNAME" }
    }

    /// The image the Containerfile builds: discod, discoctl (and disco-sidecar once it exists) in
    /// one directory, `ENTRYPOINT ["discod"]`. `productsDirectory` holds the binaries under test.
    public static func disco(productsDirectory: String) -> HarnessImage {
        HarnessImage(name: "disco", entrypoint: ["discod"], programDirectories: [productsDirectory])
    }

    /// Splits `registry:5000/name:tag@digest` into the name without tag and digest.
    public static func baseName(of reference: String) -> String {
        var name = Substring(reference)
        if let at = name.firstIndex(of: "@") { name = name[..<at] }
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { name = name[..<colon] }
        return String(name)
    }
}
