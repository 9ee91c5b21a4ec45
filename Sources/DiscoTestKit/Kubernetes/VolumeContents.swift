import DiscoCore
import Foundation

// MARK: - ObjectVolume

/// A pod volume whose files come from an API object: a Secret or a ConfigMap, each key a file
/// (`items` narrows and renames them), with `defaultMode` (0644 unless set) as the kubelet
/// writes them.
public struct ObjectVolume: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case secret = "Secret"
        case configMap = "ConfigMap"
    }

    public var kind: Kind
    /// The Secret's or ConfigMap's name.
    public var objectName: String
    /// File mode bits (`defaultMode`; an item's own `mode` overrides it).
    public var defaultMode: Int
    /// One entry of `items`: a key, the path it gets inside the volume, and its own mode.
    public struct Item: Sendable, Hashable {
        public var key: String
        public var path: String
        public var mode: Int?
    }

    /// `items`; nil projects every key as a file of its name.
    public var items: [Item]?

    /// Reads `volumes[i]` when it is a `secret` or `configMap` volume; nil for other kinds.
    init?(_ volume: ManifestNode) throws(ManifestError) {
        if let secret = try volume.object("secret") {
            kind = .secret
            objectName = try secret.requiredString("secretName")
            defaultMode = try secret.int("defaultMode") ?? 0o644
            items = try Self.items(secret)
        } else if let configMap = try volume.object("configMap") {
            kind = .configMap
            objectName = try configMap.requiredString("name")
            defaultMode = try configMap.int("defaultMode") ?? 0o644
            items = try Self.items(configMap)
        } else {
            return nil
        }
    }

    private static func items(_ source: ManifestNode) throws(ManifestError) -> [Item]? {
        guard source.child("items") != nil else { return nil }
        var out: [Item] = []
        for item in try source.array("items") {
            out.append(Item(key: try item.requiredString("key"), path: try item.requiredString("path"), mode: try item.int("mode")))
        }
        return out
    }

    /// The files of this volume (path inside the volume → bytes and mode), from the object's data.
    /// A missing object, or a key `items` names that it lacks, is an error naming both.
    public func files(from data: [String: [UInt8]]?) throws(ManifestError) -> [(path: String, bytes: [UInt8], mode: Int)] {
        guard let data else {
            throw ManifestError("\(kind.rawValue) \(objectName) does not exist: the pod cannot start until it is created "
                + "(kubectl create \(kind == .secret ? "secret" : "configmap") \(objectName) ...), and the harness must be given it")
        }
        guard let items else { return data.keys.sorted().map { ($0, data[$0] ?? [], defaultMode) } }
        var out: [(path: String, bytes: [UInt8], mode: Int)] = []
        for item in items {
            guard let bytes = data[item.key] else {
                throw ManifestError("\(kind.rawValue) \(objectName) has no key \(item.key) (it has: \(data.keys.sorted().joined(separator: ", ")))")
            }
            out.append((item.path, bytes, item.mode ?? defaultMode))
        }
        return out
    }
}

// MARK: - Object data

/// The data of Secrets and ConfigMaps by name: those in the manifests, plus those a test gives
/// (what `kubectl create secret` would have made beforehand; a given one wins).
public struct ObjectData: Sendable {
    public var secrets: [String: [String: [UInt8]]]
    public var configMaps: [String: [String: [UInt8]]]

    public init(secrets: [String: [String: [UInt8]]] = [:], configMaps: [String: [String: [UInt8]]] = [:]) {
        self.secrets = secrets
        self.configMaps = configMaps
    }

    /// The Secrets (`data` base64, `stringData`) and ConfigMaps (`data`, `binaryData`) of
    /// `manifests`, overridden by `given`.
    public init(_ manifests: KubeManifests, given: ObjectData = ObjectData()) throws(ManifestError) {
        secrets = [:]
        configMaps = [:]
        for object in manifests.objects where object.kind == "Secret" || object.kind == "ConfigMap" {
            var files: [String: [UInt8]] = [:]
            let encoded = object.kind == "Secret" ? "data" : "binaryData"
            let plain = object.kind == "Secret" ? "stringData" : "data"
            for (key, value) in try object.root.stringMap(encoded) {
                guard let bytes = Data(base64Encoded: value) else { throw object.root.error("\(encoded).\(key)", "is not base64") }
                files[key] = Array(bytes)
            }
            for (key, value) in try object.root.stringMap(plain) { files[key] = Array(value.utf8) }
            if object.kind == "Secret" { secrets[object.name] = files } else { configMaps[object.name] = files }
        }
        secrets.merge(given.secrets) { _, new in new }
        configMaps.merge(given.configMaps) { _, new in new }
    }

    public func data(for volume: ObjectVolume) -> [String: [UInt8]]? {
        volume.kind == .secret ? secrets[volume.objectName] : configMaps[volume.objectName]
    }

    /// Writes a volume's files into `directory` (created), group-owned by `group` when given.
    public func materialize(_ volume: ObjectVolume, into directory: String, group: Int?) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
        for file in try volume.files(from: data(for: volume)) {
            let path = "\(directory)/\(file.path)"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path, contents: Data(file.bytes)) else {
                throw ManifestError("cannot write \(path) for \(volume.kind.rawValue) \(volume.objectName)")
            }
            var attributes: [FileAttributeKey: Any] = [.posixPermissions: file.mode]
            if let group { attributes[.groupOwnerAccountID] = group }
            try FileManager.default.setAttributes(attributes, ofItemAtPath: path)
        }
    }
}
