import DiscoCore

// MARK: - ManifestError

/// A manifest the harness cannot use, naming the object and the field path.
public struct ManifestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

// MARK: - ManifestNode

/// A JSON value inside a Kubernetes object together with where it is (`StatefulSet disco:
/// spec.template.spec.containers[0].ports[1]`), so every error names the field. Lenient about
/// fields it is not asked for: the schema check (kubernetes-validate) judges those.
public struct ManifestNode: Sendable {
    public let value: JSONValue
    /// `Kind name: dotted.path`.
    public let location: String

    public init(_ value: JSONValue, location: String) {
        self.value = value
        self.location = location
    }

    func child(_ key: String) -> ManifestNode? {
        guard let found = value[key], !found.isNull else { return nil }
        let separator = location.hasSuffix(":") ? " " : "."
        return ManifestNode(found, location: location + separator + key)
    }

    func error(_ key: String?, _ message: String) -> ManifestError {
        let separator = location.hasSuffix(":") ? " " : "."
        return ManifestError("\(location)\(key.map { separator + $0 } ?? ""): \(message)")
    }

    // MARK: Typed fields

    func string(_ key: String) throws(ManifestError) -> String? {
        guard let node = child(key) else { return nil }
        guard let text = node.value.stringValue else { throw error(key, "expected a string, got \(node.value.kindDescription)") }
        return text
    }

    func requiredString(_ key: String) throws(ManifestError) -> String {
        guard let text = try string(key), !text.isEmpty else { throw error(key, "required") }
        return text
    }

    func int(_ key: String) throws(ManifestError) -> Int? {
        guard let node = child(key) else { return nil }
        guard let number = node.value.numberValue?.intValue else { throw error(key, "expected an integer, got \(node.value.kindDescription)") }
        return number
    }

    func bool(_ key: String) throws(ManifestError) -> Bool? {
        guard let node = child(key) else { return nil }
        guard let flag = node.value.boolValue else { throw error(key, "expected true or false, got \(node.value.kindDescription)") }
        return flag
    }

    func object(_ key: String) throws(ManifestError) -> ManifestNode? {
        guard let node = child(key) else { return nil }
        guard node.value.objectValue != nil else { throw error(key, "expected an object, got \(node.value.kindDescription)") }
        return node
    }

    func array(_ key: String) throws(ManifestError) -> [ManifestNode] {
        guard let node = child(key) else { return [] }
        guard let items = node.value.arrayValue else { throw error(key, "expected a list, got \(node.value.kindDescription)") }
        return items.enumerated().map { ManifestNode($1, location: "\(node.location)[\($0)]") }
    }

    func strings(_ key: String) throws(ManifestError) -> [String]? {
        guard child(key) != nil else { return nil }
        var out: [String] = []
        for item in try array(key) {
            guard let text = item.value.stringValue else { throw item.error(nil, "expected a string, got \(item.value.kindDescription)") }
            out.append(text)
        }
        return out
    }

    /// A map of strings such as `labels` or `matchLabels`.
    func stringMap(_ key: String) throws(ManifestError) -> [String: String] {
        guard let node = try object(key), let members = node.value.objectValue else { return [:] }
        var out: [String: String] = [:]
        for member in members {
            guard let text = member.value.stringValue else { throw node.error(member.key, "expected a string, got \(member.value.kindDescription)") }
            out[member.key] = text
        }
        return out
    }

    /// A memory quantity (`256Mi`, `1.5Gi`, `500M`, `1e9`, `1048576`) in bytes: a number with an
    /// optional binary (Ki, Mi, Gi, Ti) or decimal (k, M, G, T) suffix; nil when absent or in a
    /// form this does not read, which the API schema check judges instead.
    func memoryQuantity(_ key: String) -> Int? {
        guard let node = child(key) else { return nil }
        if let number = node.value.numberValue?.intValue { return number }
        let units: [(String, Double)] = [("Ki", 0x1p10), ("Mi", 0x1p20), ("Gi", 0x1p30), ("Ti", 0x1p40),
                                         ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12)]
        guard let text = node.value.stringValue else { return nil }
        let unit = units.first { text.hasSuffix($0.0) }
        guard let number = Double(unit.map { String(text.dropLast($0.0.count)) } ?? text), number >= 0, number < 1e15 else { return nil }
        return Int((number * (unit?.1 ?? 1)).rounded(.up))
    }

    /// An `IntOrString` such as a probe's or Service's port: a number, or a port name.
    func portReference(_ key: String) throws(ManifestError) -> PortReference? {
        guard let node = child(key) else { return nil }
        if let number = node.value.numberValue?.intValue {
            guard (1...65535).contains(number) else { throw error(key, "port \(number) is outside 1...65535") }
            return .number(UInt16(number))
        }
        if let name = node.value.stringValue, !name.isEmpty { return .name(name) }
        throw error(key, "expected a port number or a port name, got \(node.value.kindDescription)")
    }
}

// MARK: - PortReference

/// A port given by number or by the name of a container port.
public enum PortReference: Sendable, Hashable, CustomStringConvertible {
    case number(UInt16)
    case name(String)

    public var description: String {
        switch self {
        case .number(let port): String(port)
        case .name(let name): name
        }
    }
}
