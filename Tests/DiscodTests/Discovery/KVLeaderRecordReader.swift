import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation

// MARK: - Reading the leader record straight from the store

/// Reads the leader record the nodes write, with plain HTTP against the store's own API (not
/// through the node's registry code), so the tests check the key and value as the store holds them.
enum KVLeaderRecordReader: Sendable {
    /// etcd's JSON gateway at `http://127.0.0.1:<port>`; the key is `/<disco-key>/leader`.
    case etcd(endpoint: String)
    /// A Consul agent (or the double) at `host:port`; the key is `<disco-key>/leader`.
    case consul(address: String, token: String?)

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Connects within 5 s: a lost SYN is sent again only after 1 s.
    static let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(5), requestTimeout: .seconds(5)))

    /// The store's key for this disco key.
    func key(_ discoKey: String) -> String {
        switch self {
        case .etcd: "/\(discoKey)/leader"
        case .consul: "\(discoKey)/leader"
        }
    }

    /// The record's JSON, or nil when the key does not exist.
    func read(discoKey: String) async throws -> JSONValue? {
        let key = key(discoKey)
        let value: String?
        switch self {
        case .etcd(let endpoint):
            let body = #"{"key":"\#(Data(key.utf8).base64EncodedString())"}"#
            let answer = try await Self.client.send(HTTPClientRequest(method: "POST", url: endpoint + "/v3/kv/range", body: Array(body.utf8)))
            guard answer.status == 200, let json = try? JSONValue.parse(answer.body) else {
                throw Failure(description: "etcd range of \(key) answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
            }
            value = json["kvs"]?.arrayValue?.first?["value"]?.stringValue
        case .consul(let address, let token):
            var headers = HTTPHeaders()
            if let token { headers.add(name: "X-Consul-Token", value: token) }
            let answer = try await Self.client.send(HTTPClientRequest(url: "http://\(address)/v1/kv/\(key)", headers: headers))
            if answer.status == 404 { return nil }
            guard answer.status == 200, let json = try? JSONValue.parse(answer.body) else {
                throw Failure(description: "Consul GET of \(key) answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
            }
            value = json.arrayValue?.first?["Value"]?.stringValue
        }
        guard let value else { return nil }
        guard let bytes = Data(base64Encoded: value), let record = try? JSONValue.parse(Array(bytes)) else {
            throw Failure(description: "the value at \(key) is not base64 JSON: \(value)")
        }
        return record
    }

    /// Deletes every key under the disco key (for a real Consul agent shared with others).
    func deleteAll(discoKey: String) async {
        guard case .consul(let address, let token) = self else { return }
        var headers = HTTPHeaders()
        if let token { headers.add(name: "X-Consul-Token", value: token) }
        _ = try? await Self.client.send(HTTPClientRequest(method: "DELETE", url: "http://\(address)/v1/kv/\(discoKey)?recurse", headers: headers))
    }
}

extension DiscodProcess {
    /// The leader record this node writes: `{"id","api_addr","addr"}`.
    var expectedLeaderRecord: [String: String] {
        ["id": nodeID, "api_addr": apiURL, "addr": raftAddress]
    }
}

extension JSONValue {
    /// An object's members as a dictionary of texts (strings as they are, other values as JSON).
    var textMembers: [String: String] {
        guard let object = objectValue else { return [:] }
        var result: [String: String] = [:]
        for member in object { result[member.key] = member.value.stringValue ?? member.value.encoded() }
        return result
    }
}
