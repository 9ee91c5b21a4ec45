import DiscoCore
import DiscoNet

// MARK: - APIResponse

/// JSON responses of the node's API. Errors are `{"error":"…"}` with the right status code.
enum APIResponse {
    /// `value` as the body; `pretty` indents it for people (rqlite's `?pretty`).
    static func json(_ value: JSONValue, status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), pretty: Bool = false) -> HTTPResponse {
        var headers = headers
        headers.add(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: headers, bytes: (pretty ? value.prettyEncodedBytes() : value.encodedBytes()) + [0x0A])
    }

    static func error(_ status: Int, _ message: String, extra: [JSONObject.Member] = []) -> HTTPResponse {
        json(.object(JSONObject([.init(key: "error", value: .string(message))] + extra)), status: status)
    }

    /// 307 to the same path on the leader, with the leader in the body.
    static func redirect(toLeader leader: LeaderInfo, path: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: leader.apiAddress.url + path)
        return json(.object(JSONObject([
            .init(key: "error", value: .string("not the leader; the leader is \(leader.id) at \(leader.apiAddress.url)")),
            .init(key: "leader", value: leader.json),
        ])), status: 307, headers: headers)
    }

    static func methodNotAllowed(_ request: HTTPRequest, allowed: String) -> HTTPResponse {
        var response = error(405, "\(request.method) is not allowed on \(request.path); use \(allowed)")
        response.headers.add(name: "Allow", value: allowed)
        return response
    }
}

// MARK: - LeaderInfo

/// The leader as the API shows it: `{"id","api_addr","addr"}` (rqlite's leader record shape).
struct LeaderInfo: Sendable, Hashable {
    var id: NodeID
    var apiAddress: PeerAddress
    var raftAddress: PeerAddress

    var json: JSONValue {
        .object(JSONObject([
            .init(key: "id", value: .string(id.rawValue)),
            .init(key: "api_addr", value: .string(apiAddress.url)),
            .init(key: "addr", value: .string(raftAddress.description)),
        ]))
    }
}

// MARK: - Query strings

/// The query strings of the API's endpoints, the node's own and its roles' routes.
public enum APIQuery {
    /// The query of an endpoint that knows every parameter it takes: a parameter it does not know
    /// (a typo such as `after=` for `since=`, silently ignored, would answer something else than
    /// asked) or one given twice is a 400 naming the parameters it takes. Names and values are
    /// percent-decoded.
    public static func parse(_ query: String?, of endpoint: String, taking parameters: [String]) -> Result<[String: String], QueryError> {
        var result: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]).removingPercentEncodingSafely
            let takes = "it takes " + parameters.map { $0 + "=" }.joined(separator: ", ")
            guard parameters.contains(key) else {
                return .failure(QueryError(message: "\(endpoint) has no parameter \(key.prefix(64).debugDescription); \(takes)"))
            }
            guard result[key] == nil else {
                return .failure(QueryError(message: "\(endpoint): \(key)= is given twice; give it once"))
            }
            result[key] = parts.count > 1 ? String(parts[1]).removingPercentEncodingSafely : ""
        }
        return .success(result)
    }

    /// The query of an endpoint that takes none (its input is in the body or the path): nil
    /// without one (a bare `?` included), else a 400 naming its first parameter, followed by
    /// `usage`, what the endpoint takes. Ignored, `POST /leader/transfer?id=n3` would move
    /// leadership to whichever voter comes next.
    public static func refusal(_ query: String?, of endpoint: String, usage: String) -> QueryError? {
        guard let query, let first = query.split(separator: "&").first(where: { !$0.isEmpty }) else { return nil }
        let name = String(first.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]).removingPercentEncodingSafely
        return QueryError(message: "\(endpoint) takes no query (got \(String(name.prefix(64)).debugDescription)); \(usage)")
    }
}

/// A query string an endpoint refuses, answered with 400.
public struct QueryError: Error {
    /// What is wrong, and what the endpoint takes.
    public let message: String
    public init(message: String) { self.message = message }

    /// The 400 answer: `{"error": message}`.
    public var response: HTTPResponse { APIResponse.error(400, message) }
}

// MARK: - JSON bodies

/// `body` parsed as JSON, or a 400 saying what is wrong with it and where (a duplicate key is
/// named, an unterminated string located), followed by `usage`: what the endpoint takes.
func parseJSONBody(_ body: [UInt8], usage: String) -> Result<JSONValue, BodyError> {
    do throws(JSONParseError) {
        return .success(try JSONValue.parse(body))
    } catch {
        return .failure(BodyError(message: body.isEmpty ? "the body is empty; \(usage)" : "the body is not JSON: \(error); \(usage)"))
    }
}

/// The first field of `object` that an endpoint taking only `fields` does not know, as a 400
/// naming it and the fields taken, followed by `usage`; nil when every field is known. An
/// ignored field does something else than asked: `{"ID":"n3"}` (a typo) would move leadership
/// to whichever voter comes next, not to n3.
func unknownFieldError(in object: JSONObject, taking fields: [String], usage: String) -> BodyError? {
    guard let unknown = object.keys.first(where: { !fields.contains($0) }) else { return nil }
    let taken = fields.map(\.debugDescription).joined(separator: ", ")
    return BodyError(message: "unknown field \(String(unknown.prefix(64)).debugDescription); it takes \(taken); \(usage)")
}

/// A request body an endpoint refuses, answered with 400.
struct BodyError: Error {
    let message: String
    var response: HTTPResponse { APIResponse.error(400, message) }
}

// MARK: - Query values

extension [String: String] {
    /// A switch such as `?noleader` (rqlite's form): absent → false; `noleader`, `=true`, `=1`
    /// → true; `=false`, `=0` → false; any other value is refused naming them.
    func querySwitch(_ name: String, of endpoint: String) -> Result<Bool, QueryError> {
        guard let text = self[name] else { return .success(false) }
        switch text {
        case "", "true", "1": return .success(true)
        case "false", "0": return .success(false)
        default:
            return .failure(QueryError(message: "\(endpoint): \(name)=\(text.prefix(64).debugDescription) is not a valid value; "
                + "use \(name) alone (or \(name)=true, \(name)=1, \(name)=false, \(name)=0)"))
        }
    }

    /// A duration such as `timeout=5s` (Go syntax), above zero and at most `maximum`; nil when absent.
    func queryDuration(_ name: String, of endpoint: String, maximum: Duration = .seconds(300)) -> Result<Duration?, QueryError> {
        guard let text = self[name] else { return .success(nil) }
        guard let value = try? GoDuration.parse(text), value > .zero, value <= maximum else {
            return .failure(QueryError(message: "\(endpoint): \(name)=\(text.prefix(64).debugDescription) is not a valid value; "
                + "use a duration above 0s and at most \(GoDuration.format(maximum)), such as \(name)=5s or \(name)=500ms"))
        }
        return .success(value)
    }
}

/// `a=1&b&c=x%20y` → ["a": "1", "b": "", "c": "x y"].
func parseQuery(_ query: String?) -> [String: String] {
    guard let query, !query.isEmpty else { return [:] }
    var result: [String: String] = [:]
    for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key = String(parts[0]).removingPercentEncodingSafely
        result[key] = parts.count > 1 ? String(parts[1]).removingPercentEncodingSafely : ""
    }
    return result
}

extension String {
    /// Percent-decodes (and `+` → space); invalid escapes are kept as written. For query-string
    /// values, as the node's API reads them.
    public var removingPercentEncodingSafely: String {
        var bytes: [UInt8] = []
        var iterator = Array(utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                      let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
