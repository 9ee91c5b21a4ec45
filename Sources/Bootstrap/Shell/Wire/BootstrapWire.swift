import DiscoCore

// MARK: - BootstrapWire

/// JSON bodies of the formation exchanges (`/notify`, `/bootstrap/*`, `/join`), both directions.
///
/// Decoding is strict: a missing or mistyped field is an error naming the field and what was
/// expected. Unknown fields are ignored, so newer nodes can add some. API addresses are accepted
/// as `host:port` or `http://host:port` and always written as URLs.
public enum BootstrapWire {
    /// Most peers a `known` or `voters` list may carry.
    public static let maxPeers = 1024

    // MARK: Peers

    /// `{"id","addr","api_addr","voter","key_hash"?,"roles"?,"generation"?}`.
    static func peerObject(_ peer: BootstrapPeer) -> JSONObject {
        var object = JSONObject([
            .init(key: "id", value: .string(peer.id.rawValue)),
            .init(key: "addr", value: .string(peer.raftAddress)),
            .init(key: "api_addr", value: .string(apiURL(peer.apiAddress))),
            .init(key: "voter", value: .bool(peer.voter)),
        ])
        if let hash = peer.keyHash { object.append(key: "key_hash", value: .string(hash)) }
        if !peer.roles.isEmpty { object.append(key: "roles", value: .array(peer.roles.map(JSONValue.string))) }
        if let generation = peer.generation { object.append(key: "generation", value: JSONValue(generation)) }
        return object
    }

    static func peerArray(_ peers: [BootstrapPeer]) -> JSONValue {
        .array(peers.map { .object(peerObject($0)) })
    }

    /// Reads the peer fields of `reader` (`voter` defaults to true, `key_hash`, `roles` and
    /// `generation` are optional).
    static func peer(from reader: WireReader) throws(BootstrapWireError) -> BootstrapPeer {
        BootstrapPeer(id: try reader.nodeID("id"), raftAddress: try reader.raftAddress("addr"),
                      apiAddress: try reader.apiAddress("api_addr"), voter: try reader.bool("voter", default: true),
                      keyHash: try reader.optionalHex("key_hash", bytes: 32), roles: try reader.roles("roles"),
                      generation: try reader.optionalUInt64("generation"))
    }

    /// Reads the array of peers under `key`.
    static func peers(_ key: String, in reader: WireReader) throws(BootstrapWireError) -> [BootstrapPeer] {
        var result: [BootstrapPeer] = []
        for (index, element) in try reader.array(key, maxCount: maxPeers).enumerated() {
            result.append(try peer(from: WireReader(element, path: "\(reader.path(key))[\(index)]")))
        }
        return result
    }

    static func object(_ members: [(String, JSONValue)]) -> [UInt8] {
        JSONValue.object(JSONObject(members.map { JSONObject.Member(key: $0.0, value: $0.1) })).encodedBytes()
    }

    static func unexpected(_ status: Int, _ body: [UInt8], answering exchange: String) -> BootstrapWireError {
        BootstrapWireError(.unexpectedStatus, message: "unexpected status \(status) answering \(exchange): \(errorMessage(in: body))")
    }

    // MARK: Notify

    /// The body of `POST /notify`.
    public static func encode(_ request: NotifyRequest) -> [UInt8] {
        var members = peerObject(request.sender).members.map { ($0.key, $0.value) }
        members.insert(("cluster", .string(request.cluster)), at: 3)
        members.insert(("expect", JSONValue(request.expect)), at: 4)
        members.append(("known", peerArray(request.known)))
        if let key = request.nodeKey { members.append(("node_key", .string(key))) }
        return object(members)
    }

    public static func decodeNotifyRequest(_ body: [UInt8]) throws(BootstrapWireError) -> NotifyRequest {
        let reader = try WireReader(body: body)
        let sender = try peer(from: reader)
        let cluster = try reader.string("cluster", "a cluster name (a non-empty string)")
        let expect = try reader.positiveInt("expect")
        // `known` is optional: a sender that knows nobody may leave it out.
        var known: [BootstrapPeer] = []
        if let value = reader.object["known"], !value.isNull { known = try peers("known", in: reader) }
        return NotifyRequest(sender: sender, cluster: cluster, expect: expect, known: known,
                             nodeKey: try reader.optionalHex("node_key", bytes: 32))
    }

    /// The status and body answering a notify: 200 for `forming`/`clustered`, 409 for a mismatch.
    public static func encode(_ reply: NotifyReply) -> (status: Int, body: [UInt8]) {
        switch reply {
        case .forming(let responder, let known):
            var members: [(String, JSONValue)] = [("state", "forming")]
            members += peerObject(responder).members.map { ($0.key, $0.value) }
            members.append(("known", peerArray(known)))
            return (200, object(members))
        case .clustered(let responder):
            return (200, object([("state", "clustered")] + peerObject(responder).members.map { ($0.key, $0.value) }))
        case .mismatch(let message):
            return (409, errorBody(message))
        }
    }

    public static func decodeNotifyReply(status: Int, body: [UInt8]) throws(BootstrapWireError) -> NotifyReply {
        switch status {
        case 200:
            let reader = try WireReader(body: body)
            let expected = "\"forming\" or \"clustered\""
            let state = try reader.required("state", expected)
            let responder = try peer(from: reader)
            switch state.stringValue {
            case "forming": return .forming(responder: responder, known: try peers("known", in: reader))
            case "clustered": return .clustered(responder: responder)
            default: throw reader.invalid("state", expected, got: state)
            }
        case 409:
            return .mismatch(errorMessage(in: body))
        default:
            throw unexpected(status, body, answering: "POST /notify")
        }
    }
}
