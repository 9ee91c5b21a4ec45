import DiscoCore
import DiscoLifecycle
import DiscoNet
import HotCold
import HotColdNode
import LeaseCore
import NodeRuntime
import Sidecar
import SidecarProxy
import Synchronization

// MARK: - The hot replica is the writer

/// With `-hot-cold`: writes go to the hot replica of the group. Here when this replica may act as
/// hot right now (its gate gives a token), else to the proxy of the replica the replicated lease
/// names, at that member's API host and this sidecar's proxy port. Unknown (writes answered 503
/// naming the group) while nobody holds the lease or the holder cannot act.
final class HotColdWriterResolver: WriterResolver {
    private let role: HotColdRole
    private let members: MemberProxyAddresses

    init(role: HotColdRole, proxyPort: UInt16) {
        self.role = role
        members = MemberProxyAddresses(proxyPort: proxyPort)
    }

    var current: WriterLocation {
        let group = role.configuration.group
        guard let gate = role.shell?.gate else {
            return .unknown(reason: "hot/cold group \(group.rawValue.debugDescription) has not started on this replica yet")
        }
        if gate.fencingToken() != nil { return .local }
        let status = gate.status()
        guard let holder = status.holder else {
            return .unknown(reason: "no replica is hot in hot/cold group \(group.rawValue.debugDescription) right now")
        }
        if holder == status.node {
            let why = status.coldReason.map { " (\($0))" } ?? ""
            return .unknown(reason: "this replica holds the lease of hot/cold group \(group.rawValue.debugDescription) "
                + "but may not act as hot\(why)")
        }
        return members.location(of: holder)
    }

    /// Follows the member records until the node stops or the task is cancelled.
    func follow(_ context: RoleContext) async {
        await members.follow(context)
    }
}

// MARK: - Members' proxies

/// Where each member's sidecar proxy listens: its API host and this sidecar's proxy port (every
/// sidecar of a cluster uses the same `-proxy-addr` port, as the pods of a StatefulSet do).
final class MemberProxyAddresses: Sendable {
    private let proxyPort: UInt16
    private let members = Mutex<[ClusterMember]>([])

    init(proxyPort: UInt16) {
        self.proxyPort = proxyPort
    }

    /// Follows the member records until the node stops or the task is cancelled.
    func follow(_ context: RoleContext) async {
        for await list in context.membershipChanges() {
            members.withLock { $0 = list }
        }
    }

    /// The writer at `node`'s proxy, or why it cannot be reached.
    func location(of node: NodeID) -> WriterLocation {
        guard let member = members.withLock({ $0.first { $0.id == node } }) else {
            return .unknown(reason: "the writer \(node) is not in this node's member records yet")
        }
        return Self.location(of: member, proxyPort: proxyPort)
    }

    /// `member`'s proxy: its API host with `proxyPort`.
    static func location(of member: ClusterMember, proxyPort: UInt16) -> WriterLocation {
        let api = member.apiAddress.split(separator: "/").last.map(String.init) ?? member.apiAddress
        guard let address = try? PeerAddress(parsing: api) else {
            return .unknown(reason: "the API address \(member.apiAddress.debugDescription) of \(member.id) is not host:port")
        }
        return .remote(address: PeerAddress(host: address.host, port: proxyPort).description, id: member.id.rawValue)
    }
}

// MARK: - The token on requests to the local upstream

/// ``FencingTokenMiddleware`` over the hot/cold role's gate, in front of this sidecar's own
/// upstreams: the hot's requests carry `Disco-Fencing-Token: N`, a client's token header never
/// passes, and a cold replica's writes are refused. Before the role's lease shell exists this
/// replica is cold: the same headers are removed and writes refused.
struct HotColdUpstreamFencing: HTTPMiddleware {
    let role: HotColdRole

    func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        if let gate = role.shell?.gate {
            return try await FencingTokenMiddleware(gate: gate).handle(request, next: next)
        }
        var request = request
        request.headers.remove(FencingTokenMiddleware.tokenHeader)
        request.headers.remove(FencingTokenMiddleware.stateHeader)
        if FencingTokenMiddleware.isWriteMethod(request) {
            return ProxyErrorResponse.make(503, "hot/cold group \(role.configuration.group.rawValue.debugDescription) has not started on "
                + "this replica yet, so it passes no writes to its upstream; retry the write")
        }
        request.headers.add(name: FencingTokenMiddleware.stateHeader, value: HotColdStatus.State.cold.rawValue)
        return try await next(request)
    }
}

// MARK: - Routes

enum HotColdRouting {
    /// The routes of a hot/cold sidecar: with `-hot-cold-reads hot` every route goes to the
    /// writer (the hot replica), so a cold replica's reads are forwarded like its writes.
    static func routes(_ configuration: ProxyConfiguration, coldReads: HotColdConfiguration.ColdReads) -> [ProxyRoute] {
        switch coldReads {
        case .local:
            return configuration.routes
        case .hot:
            return configuration.routeTable.routes.map { route in
                var route = route
                route.target.viaWriter = true
                return route
            }
        }
    }
}
