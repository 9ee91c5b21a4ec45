import DiscoCore

// MARK: - Editing manifests in tests

extension KubeManifests {
    /// A copy with one field of one object set (or removed, with `nil`): `path` is the dotted
    /// path inside the object, list positions as numbers, such as
    /// `spec.template.spec.containers.0.restartPolicy`. Tests use this to break a rule on purpose.
    public func setting(_ path: String, to value: JSONValue?, in kind: String, named name: String) throws -> KubeManifests {
        guard let index = objects.firstIndex(where: { $0.kind == kind && $0.name == name }) else {
            throw ManifestError("no \(kind) named \(name) to edit")
        }
        var copy = objects
        let edited = try Self.set(copy[index].root.value, path: path.split(separator: ".").map(String.init)[...], to: value,
                                  whole: "\(kind) \(name): \(path)")
        copy[index] = try KubeObject(edited)
        return KubeManifests(objects: copy)
    }

    private static func set(_ node: JSONValue, path: ArraySlice<String>, to value: JSONValue?, whole: String) throws -> JSONValue {
        guard let key = path.first else { return value ?? .null }
        let rest = path.dropFirst()
        switch node {
        case .object(var object):
            let child = object[key] ?? .object(JSONObject())
            object[key] = rest.isEmpty ? value : try set(child, path: rest, to: value, whole: whole)
            return .object(object)
        case .array(var items):
            guard let position = Int(key), items.indices.contains(position) else {
                throw ManifestError("\(whole): \(key) is not a position in a list of \(items.count)")
            }
            if rest.isEmpty {
                if let value { items[position] = value } else { items.remove(at: position) }
            } else {
                items[position] = try set(items[position], path: rest, to: value, whole: whole)
            }
            return .array(items)
        default:
            throw ManifestError("\(whole): \(key) is inside \(node.kindDescription), not an object or a list")
        }
    }
}
