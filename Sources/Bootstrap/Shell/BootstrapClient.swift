import DiscoCore
import DiscoNet

// MARK: - BootstrapClientError

/// Why a formation request to another node failed, naming the node and what happened.
public struct BootstrapClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Extensible failure kinds; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The connection failed (refused, reset, no route).
        public static let unreachable = Code(name: "unreachable")
        /// No complete answer within the timeout.
        public static let timeout = Code(name: "timeout")
        /// The node answered something this exchange does not define, or a malformed body.
        public static let badAnswer = Code(name: "bad answer")
        /// `POST /join`: the node knows no leader yet (503); retry later.
        public static let noLeader = Code(name: "no leader")
        /// `POST /join`: the cluster refuses this node (409: other cluster name, stale epoch).
        /// Retrying will not help; the message says what to change.
        public static let refused = Code(name: "refused")
        /// `POST /join`: more than ``BootstrapClient/maxJoinRedirects`` redirects.
        public static let tooManyRedirects = Code(name: "too many redirects")
        /// `POST /join`: a redirect from `https://` to `http://`, which is not followed (the
        /// request and its credentials would cross the network unencrypted).
        public static let insecureRedirect = Code(name: "insecure redirect")
        /// The cluster requires credentials this node did not send or that lack a permission
        /// (401, 403): set `-join-as` to a user with the `join` permission.
        public static let unauthorized = Code(name: "unauthorized")
        /// `POST /join` of a node with state (a rejoin): the cluster removed this node (410).
        /// It joins again only as a new member.
        public static let removed = Code(name: "removed")
    }

    public let code: Code
    /// The address the request went to (`host:port`).
    public let target: String
    public let detail: String

    public init(_ code: Code, target: String, detail: String) {
        self.code = code
        self.target = target
        self.detail = detail
    }

    public var description: String { "\(target): \(detail)" }
}

/// How ``BootstrapClient/join(targets:request:timeout:)`` ended.
public enum JoinResult: Hashable, Sendable {
    /// A leader added this node.
    case joined(JoinAccepted, via: PeerAddress)
    /// A cluster refused this node (409, or 410 when it was removed); retrying as is will not help.
    case refused(BootstrapClientError)
    /// No target added this node: one failure per target, in order.
    case failed([BootstrapClientError])
}

// MARK: - BootstrapClient

/// Sends the formation requests (`/notify`, `/bootstrap/*`, `/join`) over DiscoNet's HTTP client.
public struct BootstrapClient: Sendable {
    /// Redirects a join follows from one target before giving up on it.
    public static let maxJoinRedirects = 10

    public let http: HTTPClient
    /// The `Authorization` header sent with every request (`-join-as`), if any.
    public let authorization: String?
    /// The scheme of other nodes' APIs when an address does not name one: `https` when this
    /// node serves its API over TLS (every node of a cluster does the same).
    public let apiScheme: PeerAddress.Scheme

    /// - Parameters:
    ///   - http: the client to send with; by default one with a 1 s connect timeout, so a dead
    ///     target costs at most that much of a round.
    ///   - authorization: an `Authorization` header value for clusters that run with `-auth`.
    ///   - apiScheme: the scheme for addresses given without one (`-join` URLs may name theirs).
    public init(http: HTTPClient = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(1))),
                authorization: String? = nil, apiScheme: PeerAddress.Scheme = .http) {
        self.http = http
        self.authorization = authorization
        self.apiScheme = apiScheme
    }

    /// `scheme://host:port` for a target: its own scheme, else ``apiScheme``.
    func baseURL(_ target: PeerAddress) -> String {
        PeerAddress(host: target.host, port: target.port, scheme: target.scheme ?? apiScheme).url
    }

    // MARK: Notify

    /// Sends a notify to `target`. `nil` when it did not answer in time or answered nonsense.
    public func notify(_ target: PeerAddress, _ request: NotifyRequest, timeout: Duration) async -> NotifyReply? {
        try? await notifyResult(target, request, timeout: timeout).get()
    }

    /// Sends a notify to `target`, saying why when there is no usable answer.
    public func notifyResult(_ target: PeerAddress, _ request: NotifyRequest, timeout: Duration) async -> Result<NotifyReply, BootstrapClientError> {
        let address = target.withoutScheme.description
        return await send("POST", url: baseURL(target) + "/notify", body: BootstrapWire.encode(request), timeout: timeout)
            .flatMap { response in
                if response.status == 401 || response.status == 403 {
                    return .failure(BootstrapClientError(.unauthorized, target: address, detail:
                        "notify refused (\(response.status)): \(BootstrapWire.errorMessage(in: response.body))\(missingCredentialsHint)"))
                }
                return decoding(address) { () throws(BootstrapWireError) in
                    try BootstrapWire.decodeNotifyReply(status: response.status, body: response.body)
                }
            }
    }

    /// Appended to a 401 or 403 answer when this node sent no credentials.
    var missingCredentialsHint: String { authorization == nil ? " (did you forget to set -join-as?)" : "" }

    // MARK: Proposals

    /// Asks `peer` to promise itself to `proposal`.
    public func propose(_ proposal: Proposal, to peer: BootstrapPeer, timeout: Duration) async -> Result<ProposalReply, BootstrapClientError> {
        await send("POST", url: BootstrapWire.apiURL(peer.apiAddress, scheme: apiScheme) + "/bootstrap/propose", body: BootstrapWire.encode(proposal),
                   timeout: timeout)
            .flatMap { response in
                decoding(peer.apiAddress) { () throws(BootstrapWireError) in
                    try BootstrapWire.decodeProposalReply(status: response.status, body: response.body)
                }
            }
    }

    /// Tells `peer` that proposal `id` is abandoned.
    public func abandon(_ id: ProposalID, to peer: BootstrapPeer, timeout: Duration) async -> Result<Void, BootstrapClientError> {
        await send("POST", url: BootstrapWire.apiURL(peer.apiAddress, scheme: apiScheme) + "/bootstrap/abandon", body: BootstrapWire.encodeAbandon(id),
                   timeout: timeout)
            .flatMap { response in
                response.status == 200 ? .success(())
                    : .failure(BootstrapClientError(.badAnswer, target: peer.apiAddress,
                                                    detail: "abandon answered \(response.status): \(BootstrapWire.errorMessage(in: response.body))"))
            }
    }

    /// Asks `proposer` what became of its proposal `id`.
    public func status(of id: ProposalID, proposer: BootstrapPeer, timeout: Duration) async -> Result<ProposalStatus, BootstrapClientError> {
        await send("GET", url: BootstrapWire.apiURL(proposer.apiAddress, scheme: apiScheme) + "/bootstrap/status?" + BootstrapWire.statusQuery(id),
                   body: [], timeout: timeout)
            .flatMap { response in
                decoding(proposer.apiAddress) { () throws(BootstrapWireError) in
                    try BootstrapWire.decodeStatus(status: response.status, body: response.body)
                }
            }
    }

    // MARK: Internals

    func send(_ method: String, url: String, body: [UInt8], timeout: Duration) async -> Result<HTTPClientResponse, BootstrapClientError> {
        var headers = HTTPHeaders()
        if method == "POST" { headers.add(name: "Content-Type", value: "application/json") }
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        do {
            return .success(try await http.send(HTTPClientRequest(method: method, url: url, headers: headers, body: body), timeout: timeout))
        } catch let error as HTTPClientError {
            let code: BootstrapClientError.Code = error.code == .timeout || error.code == .connectTimeout ? .timeout : .unreachable
            return .failure(BootstrapClientError(code, target: error.host, detail: "\(error.code): \(error.detail)"))
        } catch {
            return .failure(BootstrapClientError(.unreachable, target: url, detail: "\(error)"))
        }
    }

    func decoding<T>(_ target: String, _ decode: () throws(BootstrapWireError) -> T) -> Result<T, BootstrapClientError> {
        do {
            return .success(try decode())
        } catch {
            return .failure(BootstrapClientError(.badAnswer, target: target, detail: error.message))
        }
    }
}
