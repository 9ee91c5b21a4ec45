import DiscoCore

// MARK: - BootstrapWireError

/// Why a formation message (notify, proposal, join, ...) could not be decoded. The message names
/// the field and says what was expected, e.g. `"expect" must be a positive integer, got "x"`.
public struct BootstrapWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Extensible failure kinds; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The body is not JSON at all.
        public static let malformedJSON = Code(name: "malformed JSON")
        /// A required field is absent.
        public static let missingField = Code(name: "missing field")
        /// A field has the wrong type or an invalid value.
        public static let invalidField = Code(name: "invalid field")
        /// The HTTP status is not one the exchange defines.
        public static let unexpectedStatus = Code(name: "unexpected status")
    }

    public let code: Code
    /// The offending field as a path (`known[2].api_addr`), when one is concerned.
    public let field: String?
    /// The complete explanation.
    public let message: String

    public init(_ code: Code, field: String? = nil, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String { message }
}

// MARK: - Reading fields

/// Reads typed fields from one JSON object, producing errors that name the field by its path.
struct WireReader {
    let object: JSONObject
    /// Prefix of field paths, e.g. `known[2].` (empty at the top level).
    let prefix: String

    /// Parses a body that must be a JSON object.
    init(body: [UInt8]) throws(BootstrapWireError) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body, maxDepth: 16)
        } catch {
            throw BootstrapWireError(.malformedJSON, message: "the body is not valid JSON: \(error)")
        }
        try self.init(value, path: "")
    }

    /// Wraps a value that must be an object; `path` names it in errors (empty for the body).
    init(_ value: JSONValue, path: String) throws(BootstrapWireError) {
        guard let object = value.objectValue else {
            let what = path.isEmpty ? "the body" : "\"\(path)\""
            throw BootstrapWireError(.invalidField, field: path.isEmpty ? nil : path,
                                     message: "\(what) must be a JSON object, got \(value.kindDescription)")
        }
        self.object = object
        self.prefix = path.isEmpty ? "" : path + "."
    }

    func path(_ key: String) -> String { prefix + key }

    func invalid(_ key: String, _ expected: String, got value: JSONValue, detail: String? = nil) -> BootstrapWireError {
        let suffix = detail.map { " (\($0))" } ?? ""
        return BootstrapWireError(.invalidField, field: path(key),
                                  message: "\"\(path(key))\" must be \(expected), got \(value.errorDescription)\(suffix)")
    }

    /// The value of a required field (present and not null).
    func required(_ key: String, _ expected: String) throws(BootstrapWireError) -> JSONValue {
        guard let value = object[key], !value.isNull else {
            throw BootstrapWireError(.missingField, field: path(key), message: "\"\(path(key))\" is missing; expected \(expected)")
        }
        return value
    }

    // MARK: Typed fields

    func string(_ key: String, _ expected: String = "a non-empty string") throws(BootstrapWireError) -> String {
        let value = try required(key, expected)
        guard let text = value.stringValue, !text.isEmpty else { throw invalid(key, expected, got: value) }
        return text
    }

    func nodeID(_ key: String) throws(BootstrapWireError) -> NodeID {
        let expected = "a node ID (a non-empty string without whitespace or control characters)"
        let value = try required(key, expected)
        guard let text = value.stringValue, let id = NodeID(text) else { throw invalid(key, expected, got: value) }
        return id
    }

    func positiveInt(_ key: String) throws(BootstrapWireError) -> Int {
        let value = try required(key, "a positive integer")
        guard let number = value.numberValue?.intValue, number > 0 else { throw invalid(key, "a positive integer", got: value) }
        return number
    }

    func positiveUInt64(_ key: String) throws(BootstrapWireError) -> UInt64 {
        let value = try required(key, "a positive integer")
        guard let number = value.numberValue?.uint64Value, number > 0 else { throw invalid(key, "a positive integer", got: value) }
        return number
    }

    /// A non-negative integer, or `nil` when absent or null.
    func optionalUInt64(_ key: String) throws(BootstrapWireError) -> UInt64? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let number = value.numberValue?.uint64Value else { throw invalid(key, "a non-negative integer", got: value) }
        return number
    }

    /// Lowercase or uppercase hexadecimal text of `bytes` bytes, or `nil` when absent or null.
    func optionalHex(_ key: String, bytes: Int) throws(BootstrapWireError) -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        let expected = "\(bytes * 2) hexadecimal digits"
        guard let text = value.stringValue, text.utf8.count == bytes * 2,
              text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) })
        else { throw invalid(key, expected, got: value) }
        return text.lowercased()
    }

    /// Role names (``RoleNames``), normalized; empty when absent or null.
    func roles(_ key: String) throws(BootstrapWireError) -> [String] {
        guard let value = object[key], !value.isNull else { return [] }
        let expected = "an array of role names"
        guard let elements = value.arrayValue, elements.count <= RoleNames.maxCount else { throw invalid(key, expected, got: value) }
        var names: [String] = []
        for element in elements {
            guard let name = element.stringValue else { throw invalid(key, expected, got: value) }
            if let problem = RoleNames.problem(with: name) { throw invalid(key, expected, got: value, detail: problem) }
            names.append(name)
        }
        return RoleNames.normalized(names)
    }

    func bool(_ key: String, default fallback: Bool) throws(BootstrapWireError) -> Bool {
        guard let value = object[key], !value.isNull else { return fallback }
        guard let flag = value.boolValue else { throw invalid(key, "true or false", got: value) }
        return flag
    }

    func array(_ key: String, maxCount: Int) throws(BootstrapWireError) -> [JSONValue] {
        let value = try required(key, "an array")
        guard let elements = value.arrayValue else { throw invalid(key, "an array", got: value) }
        guard elements.count <= maxCount else {
            throw BootstrapWireError(.invalidField, field: path(key),
                                     message: "\"\(path(key))\" has \(elements.count) elements; at most \(maxCount) are allowed")
        }
        return elements
    }

    /// A Raft address: `host:port` without a scheme. Returned normalised (`host:port`).
    func raftAddress(_ key: String) throws(BootstrapWireError) -> String {
        try address(key, "a Raft address host:port") { $0.scheme == nil ? nil : "no URL scheme here" }
    }

    /// An HTTP API address: `host:port`, `http://host:port` or `https://host:port`. Returned as
    /// `host:port` (every node of a cluster serves its API the same way; see ``BootstrapClient/apiScheme``).
    func apiAddress(_ key: String) throws(BootstrapWireError) -> String {
        try address(key, "an API address host:port or http(s)://host:port") { _ in nil }
    }

    /// A `host:port` string field, refused with `problem`'s answer when it names one.
    private func address(_ key: String, _ expected: String, problem: (PeerAddress) -> String?) throws(BootstrapWireError) -> String {
        let value = try required(key, expected)
        guard let text = value.stringValue else { throw invalid(key, expected, got: value) }
        let address: PeerAddress
        do {
            address = try PeerAddress(parsing: text)
        } catch {
            throw invalid(key, expected, got: value, detail: error.reason)
        }
        if let detail = problem(address) { throw invalid(key, expected, got: value, detail: detail) }
        return address.description
    }
}

// MARK: - Writing fields

extension BootstrapWire {
    /// `host:port` (or a URL) as the `scheme://host:port` URL the wire carries; a URL keeps its
    /// own scheme.
    public static func apiURL(_ address: String, scheme: PeerAddress.Scheme = .http) -> String {
        if let parsed = try? PeerAddress(parsing: address) {
            return PeerAddress(host: parsed.host, port: parsed.port, scheme: parsed.scheme ?? scheme).url
        }
        return address.contains("://") ? address : "\(scheme.rawValue)://\(address)"
    }

    /// `{"error": message}`, the body of every error answer.
    public static func errorBody(_ message: String) -> [UInt8] {
        JSONValue.object(JSONObject([.init(key: "error", value: .string(message))])).encodedBytes()
    }

    /// The `error` member of an error body, or the body's text when it is not such an object.
    public static func errorMessage(in body: [UInt8]) -> String {
        if let value = try? JSONValue.parse(body, maxDepth: 16), let message = value["error"]?.stringValue { return message }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return text.isEmpty ? "(empty body)" : text
    }
}
