import DiscoCore
import DiscoLifecycle
import DiscoNet
import HotCold
import LeaseCore
import NodeRuntime
import Synchronization

// MARK: - HotColdRole

/// Hot/cold as a role of a node: runs the lease shell (``HotColdLease``) over the node's
/// replicated key-value state, and serves
///
/// - `GET /hot` (permission `status`): who is hot, the token, this replica's state;
/// - `POST /hot/move?to=ID` (permission `hot-admin`): a planned switch-over, refused without
///   stepping down when `ID` is unknown (404) or not an eligible replica of the group (409);
/// - `/readyz?hot`: 200 only on the hot replica (the node's other readiness checks apply too);
/// - its counters on `/metrics` and its status under `roles.hot-cold` in `/status`.
///
/// When the node stops gracefully the replica steps down, waits for the writes it already passed
/// to its upstream (at most ``HotColdConfiguration/drainTimeout``) and releases the lease first.
public final class HotColdRole: Role {
    public var name: String { Self.roleName }
    /// The role's name, announced in the node's member record: only members whose record
    /// names it are taken as replicas (a node restarted without `-hot-cold` is no candidate).
    public static let roleName = "hot-cold"
    public let configuration: HotColdConfiguration
    private let lease = Mutex<HotColdLease?>(nil)
    private let upstreamHealthy = Mutex(true)
    /// The cluster's members as this node last applied them (nil before the role runs).
    private let members = Mutex<Set<NodeID>?>(nil)
    /// When the node asked the role to stop (nil until then).
    private let stopAsked = Mutex<ContinuousClock.Instant?>(nil)
    private let observe: @Sendable (HotColdChange) -> Void

    /// A role with `configuration` (validated by the caller). `observe` hears every change.
    public init(configuration: HotColdConfiguration, observe: @escaping @Sendable (HotColdChange) -> Void = { _ in }) {
        self.configuration = configuration
        self.observe = observe
    }

    /// The running lease shell (nil before the node runs the role).
    public var shell: HotColdLease? { lease.withLock { $0 } }

    /// What is left at `now` of a drain of `budget` that began when the node asked this role to
    /// stop (all of it before then): the role's wait for its writes in flight and the proxy's
    /// drain after it share one budget, `-proxy-drain-timeout`.
    public func drainLeft(of budget: Duration, now: ContinuousClock.Instant = .now) -> Duration {
        guard let asked = stopAsked.withLock({ $0 }) else { return budget }
        return max(.zero, budget - (now - asked))
    }

    /// The upstream's health (the sidecar's checks feed it): unhealthy steps down at once.
    public func setUpstreamHealthy(_ healthy: Bool) {
        upstreamHealthy.withLock { $0 = healthy }
        shell?.setUpstreamHealthy(healthy)
    }

    public func run(_ context: RoleContext) async throws {
        let store = KeyValueLeaseTableStore(node: context.nodeID, space: NodeKeyValueSpace(context: context), logger: context.logger)
        // Every change of this replica also goes to the event log (type `hot-cold`), in order.
        let (changes, recorder) = AsyncStream.makeStream(of: HotColdChange.self, bufferingPolicy: .bufferingNewest(256))
        let observe = self.observe
        let shell = HotColdLease(node: context.nodeID, configuration: configuration, store: store, logger: context.logger,
                                 observe: { change in
                                     recorder.yield(change)
                                     observe(change)
                                 })
        lease.withLock { $0 = shell }
        if !upstreamHealthy.withLock({ $0 }) { shell.setUpstreamHealthy(false) }
        await withDiscardingTaskGroup { group in
            group.addTask { await Self.record(changes, context) }
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { membership in
                    membership.addTask { [self] in
                        for await list in context.membershipChanges() { self.members.withLock { $0 = Set(list.map(\.id)) } }
                    }
                    await shell.run()
                    membership.cancelAll()
                }
            } onGracefulShutdown: { [self] in
                stopAsked.withLock { $0 = $0 ?? .now }
                shell.stop()
            }
            recorder.finish()
        }
    }

    /// Appends each change as an event, a few tries each (one idempotency key per change, so a
    /// retried append is in the log once); a change that cannot be appended is logged and skipped.
    private static func record(_ changes: AsyncStream<HotColdChange>, _ context: RoleContext) async {
        for await change in changes {
            // Unique per change: the instant, token and state, and the node when it fits a key.
            let base = "hot-cold-\(change.token)-\(change.state.rawValue)-\(change.wallNanoseconds)"
            let withNode = base + "-" + change.node.rawValue
            let key = IdempotencyWindow.problem(with: withNode) == nil ? withNode : base
            var delay = Duration.milliseconds(100)
            for attempt in 1...5 {
                do {
                    _ = try await context.node.appendEvent(change.eventJSON, idempotencyKey: key)
                    break
                } catch {
                    if attempt == 5 {
                        context.logger.warning("hot/cold change not recorded in the event log: \(error)")
                    } else {
                        try? await Task.sleep(for: delay)
                        delay *= 2
                    }
                }
            }
        }
    }

    // MARK: Routes

    public var routes: [APIRoute] {
        [
            APIRoute(["GET"], "/hot", permission: .status) { [self] request in
                if let error = APIQuery.refusal(request.query, of: "GET /hot", usage: "it answers this replica's hot/cold state") {
                    return error.response
                }
                guard let shell else { return Self.notRunning }
                return HotColdAPI.hot(shell.gate.status()).httpResponse
            },
            APIRoute(["POST"], "/hot/move", permission: .hotAdmin, runsToCompletion: true) { [self] request in
                await move(request)
            },
        ]
    }

    static var notRunning: HTTPResponse {
        HTTPResponse(status: 503, headers: ["Content-Type": "application/json"],
                     bytes: Array(#"{"error":"the hot/cold role is not running yet"}"#.utf8) + [UInt8(ascii: "\n")])
    }

    private func move(_ request: HTTPRequest) async -> HTTPResponse {
        let node: NodeID
        switch Self.moveTarget(query: request.query) {
        case .success(let target): node = target
        case .failure(let error): return error.response
        }
        guard let shell else { return Self.notRunning }
        if let refusal = Self.moveRefusal(to: node, group: configuration.group, candidates: await shell.knownCandidates,
                                          members: members.withLock { $0 }) {
            return refusal
        }
        switch await shell.move(to: node) {
        case .applied(.moveRequested(let group, let to)):
            return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], bytes: JSONValue.object(JSONObject([
                .init(key: "group", value: .string(group.rawValue)), .init(key: "moving_to", value: .string(to.rawValue)),
            ])).encodedBytes() + [UInt8(ascii: "\n")])
        case .applied(.refused(_, let refusal)):
            return Self.error(409, "move to \(node) refused: \(refusal)")
        case .applied(let other):
            return Self.error(500, "move to \(node) applied as \(other)")
        case .unknown(let reason):
            return Self.error(503, "move to \(node) not confirmed: \(reason); check GET /hot before trying again")
        }
    }

    /// Why a move to `target` must not even be proposed (the hot would step down and the lease go
    /// to some other replica): 404 when no candidacy names it and it is no member of the cluster,
    /// 409 when it is not an eligible replica of `group`; nil when it is. The answer names the
    /// eligible replicas.
    static func moveRefusal(to target: NodeID, group: LeaseGroup, candidates: [LeaseCandidate], members: Set<NodeID>?) -> HTTPResponse? {
        let eligible = candidates.filter(\.isEligible).map(\.node)
        func refuse(_ status: Int, _ message: String) -> HTTPResponse {
            HTTPResponse(status: status, headers: ["Content-Type": "application/json"], bytes: JSONValue.object(JSONObject([
                .init(key: "error", value: .string(message)), .init(key: "target", value: .string(target.rawValue)),
                .init(key: "group", value: .string(group.rawValue)),
                .init(key: "eligible", value: .array(eligible.map { .string($0.rawValue) })),
            ])).encodedBytes() + [UInt8(ascii: "\n")])
        }
        let list = eligible.isEmpty ? "none" : eligible.map(\.rawValue).joined(separator: ", ")
        guard let candidate = candidates.first(where: { $0.node == target }) else {
            if members?.contains(target) == true {
                return refuse(409, "\(target) is not a replica of hot/cold group \(group) (it serves another group or runs without "
                    + "-hot-cold); eligible replicas: \(list)")
            }
            return refuse(404, "no node \(target) in the cluster or hot/cold group \(group); eligible replicas: \(list)")
        }
        var reasons: [String] = []
        if !candidate.mayBeHot { reasons.append("runs with -no-hot") }
        if !candidate.healthy { reasons.append("its upstream is unhealthy") }
        if !candidate.inTouch { reasons.append("it is not alive as far as this node can tell") }
        guard reasons.isEmpty else {
            return refuse(409, "\(target) may not be hot in group \(group): \(reasons.joined(separator: ", ")); eligible replicas: \(list)")
        }
        return nil
    }

    // MARK: Readiness, metrics, status

    /// `/readyz?hot`.
    public var readinessParameters: [String] { ["hot"] }

    /// `hot=` with a value that means nothing (`/readyz` answers 400 naming the accepted ones).
    public func readinessQueryProblem(query: String?) -> String? {
        if case .failure(let error) = HotColdAPI.asksForHot(query: query) { return error.message }
        return nil
    }

    public func readinessProblem(query: String?) async -> String? {
        switch HotColdAPI.asksForHot(query: query) {
        case .success(false): return nil
        case .failure(let error): return error.message
        case .success(true):
            guard let shell else { return "the hot/cold role is not running yet" }
            let status = shell.gate.status()
            let answer = HotColdAPI.hotReadiness(status, token: shell.gate.fencingToken())
            return answer.status == 200 ? nil : answer.text.split(separator: "\n").first.map(String.init)
        }
    }

    public func metricLines() async -> [String] {
        guard let shell else { return [] }
        return shell.metrics.prometheusText(status: shell.gate.status()).split(separator: "\n").map(String.init)
    }

    public func status() async -> JSONValue? {
        shell?.gate.status().json
    }

    // MARK: Helpers

    static func error(_ status: Int, _ message: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"],
                     bytes: JSONValue.object(JSONObject([.init(key: "error", value: .string(message))])).encodedBytes() + [UInt8(ascii: "\n")])
    }

    /// The replica `POST /hot/move?to=ID` names, percent-decoded (a node ID may hold `&`, `#`,
    /// `+` or `%`, which `discoctl hot move -to` escapes). A parameter other than `to`, or `to`
    /// given twice, is refused as the node's own endpoints refuse them: the first `to` would
    /// count and the rest be ignored, so an ID with an unescaped `&` would name another node.
    static func moveTarget(query: String?) -> Result<NodeID, QueryError> {
        let endpoint = "POST /hot/move"
        switch APIQuery.parse(query, of: endpoint, taking: ["to"]) {
        case .failure(let error):
            return .failure(error)
        case .success(let parameters):
            guard let text = parameters["to"], let node = NodeID(text) else {
                return .failure(QueryError(message: "\(endpoint) needs ?to=ID naming the replica to make hot, e.g. /hot/move?to=node-2"))
            }
            return .success(node)
        }
    }
}
