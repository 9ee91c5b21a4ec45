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
/// hot right now (its gate gives a token), else to the proxy the replica holding the replicated
/// lease announced. Unknown (writes answered 503 naming the group) while nobody holds the lease
/// or the holder cannot act.
enum HotColdWriter {
    /// The writer for `role`'s group; `announcement` gives a node's stored proxy announcement.
    static func location(_ role: HotColdRole, announcement: (NodeID) -> [UInt8]?) -> WriterLocation {
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
        return WriterLocation.announced(by: holder.rawValue, role: "the hot replica", announcement: announcement(holder))
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
        FencingTokenMiddleware.removeClientHeaders(&request.headers)
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
