import DiscoCore
import DiscoNet

// MARK: - StatusQuery

/// The query of the JSON endpoints that report (`GET /status`, `GET /leader`, `GET /nodes`):
/// rqlite's `pretty` (the answer indented for people) and, on `GET /status`, rqlite's `key=`
/// (a member's name or a dot-separated path, such as `key=node` or `key=bootstrap.state`: only
/// that part of the answer).
struct StatusQuery {
    /// Whether the answer is indented.
    var pretty = false
    /// The path `key=` names, split at its dots; nil without `key=`.
    var key: [String]?

    /// `parsed` (from ``APIQuery/parse(_:of:taking:)``) read as a status query, or a 400 naming
    /// the malformed value: `pretty` takes no value (or `true`, `1`, `false`, `0`), `key=` a
    /// name or a path without empty parts.
    static func read(_ parsed: [String: String], of endpoint: String) -> Result<StatusQuery, QueryError> {
        var query = StatusQuery()
        switch parsed.querySwitch("pretty", of: endpoint) {
        case .success(let pretty): query.pretty = pretty
        case .failure(let error): return .failure(error)
        }
        if let key = parsed["key"] {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !parts.contains(where: \.isEmpty) else {
                return .failure(QueryError(message: "\(endpoint): key=\(key.prefix(64).debugDescription) is not a valid value; "
                    + "use a member's name or a dot-separated path, such as key=node or key=bootstrap.state"))
            }
            query.key = parts
        }
        return .success(query)
    }

    /// The part of `body` that ``key`` names (all of it without `key=`), or a 400 naming the
    /// part that is missing and the members there are. rqlite answers `{}` for a key naming
    /// nothing; a typo (`key=bootstrp`) would then read as an empty section.
    func selecting(from body: JSONValue, of endpoint: String) -> Result<JSONValue, QueryError> {
        guard let key else { return .success(body) }
        let asked = key.joined(separator: ".")
        var value = body
        for (depth, name) in key.enumerated() {
            let parent = depth == 0 ? "the answer" : key[..<depth].joined(separator: ".")
            guard let object = value.objectValue else {
                return .failure(QueryError(message: "\(endpoint): key=\(asked.prefix(64).debugDescription) names nothing: "
                    + "\(parent) is not an object; end the path at \(parent)"))
            }
            guard let member = object[name] else {
                return .failure(QueryError(message: "\(endpoint): key=\(asked.prefix(64).debugDescription) names nothing: "
                    + "\(parent) has no member \(name.prefix(64).debugDescription); its members are \(object.keys.joined(separator: ", "))"))
            }
            value = member
        }
        return .success(value)
    }

    /// `value` as a 200 answer, indented with `pretty`.
    func response(_ value: JSONValue) -> HTTPResponse {
        APIResponse.json(value, pretty: pretty)
    }
}
