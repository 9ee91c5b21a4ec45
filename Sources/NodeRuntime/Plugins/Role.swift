import DiscoCore
import DiscoLifecycle

// MARK: - Role

/// A plug-in that runs inside a node: the DNS server of the `dns` role, the `host` role's event
/// writer, a sidecar's proxy. Pass roles to ``Node/start(_:logger:components:roles:)``.
///
/// The node announces each role's ``name`` (in its member record, committed at join, and in its
/// gossip metadata), runs ``run(_:)`` as a service of its own group (started after the engines
/// and the API, asked to stop gracefully before the node hands leadership over and leaves),
/// serves its ``routes`` through the API's route table (with access control), appends its
/// ``metricLines()`` to `/metrics`, shows its ``status()`` under `roles` in `/status`, and answers
/// `/readyz` with 503 while ``readinessProblem()`` names one.
///
/// Every requirement but ``name`` and ``run(_:)`` has a default.
public protocol Role: Sendable {
    /// The role's name (``RoleNames``: lowercase letters, digits and `-`).
    var name: String { get }

    /// Runs until the node stops it: return (or throw `CancellationError`) once
    /// `gracefulShutdown()` returns or the task is cancelled. An error thrown otherwise stops the
    /// node with that error. The streams of `context` end when the node stops.
    func run(_ context: RoleContext) async throws

    /// HTTP routes the role serves on the node's API (paths must not collide with the node's own).
    var routes: [APIRoute] { get }

    /// Prometheus text lines (`name{labels} value`) appended to `/metrics`.
    func metricLines() async -> [String]

    /// Fields shown as `roles.<name>` in `/status` (nil: `{}`).
    func status() async -> JSONValue?

    /// Nil when the role is ready; else why not (`/readyz` answers 503 naming it).
    func readinessProblem() async -> String?

    /// The same for a `/readyz` request with `query` (e.g. `hot`, which only the hot/cold role
    /// reads); by default ``readinessProblem()``.
    func readinessProblem(query: String?) async -> String?

    /// The `/readyz` query parameters the role reads in ``readinessProblem(query:)`` (`hot`):
    /// `/readyz` refuses any parameter that neither it nor a role takes. Default none.
    var readinessParameters: [String] { get }

    /// Nil when the role's parameters in a `/readyz` `query` have values it understands; else
    /// what is wrong and what would be right (`/readyz` answers 400 with it, as for its own
    /// parameters, instead of reporting the node not ready). Default nil.
    func readinessQueryProblem(query: String?) -> String?

    /// Re-reads what the role loads from files (SIGHUP, with ``Node/reload()``).
    func reload()
}

extension Role {
    public var routes: [APIRoute] { [] }
    public func metricLines() async -> [String] { [] }
    public func status() async -> JSONValue? { nil }
    public func readinessProblem() async -> String? { nil }
    public func readinessProblem(query: String?) async -> String? { await readinessProblem() }
    public var readinessParameters: [String] { [] }
    public func readinessQueryProblem(query: String?) -> String? { nil }
    public func reload() {}
}

// MARK: - RoleContext

/// What a running ``Role`` sees of its node: who it is, who leads, who belongs (with each
/// member's roles), the committed events, and the replicated key-value state it may read and
/// write (through the node: the leader proposes, other nodes forward).
public struct RoleContext: Sendable {
    /// The node the role runs in.
    public let node: Node
    /// A logger labelled with the role's name.
    public let logger: Logger

    public var nodeID: NodeID { node.id }

    /// The current leadership first, then every change of leader or term, until the node stops.
    public func leadershipChanges() -> AsyncStream<ConsensusLeadership> {
        let status = node.consensus.status
        let current = ConsensusLeadership(term: status.term, leader: status.leader, isLocal: status.isLeader)
        return AsyncStream.prepending(current, to: node.consensus.leadershipChanges())
    }

    /// The member records (sorted by ID, each with its roles) now, then after every change of
    /// membership, until the node stops.
    public func membershipChanges() -> AsyncStream<[ClusterMember]> {
        let store = node.store
        let changes = AsyncStream.mapping(store.changes()) { _ in store.members }
        return AsyncStream.prepending(store.members, to: changes)
    }

    /// SWIM's view of the other members (each with its state: alive, suspect, dead, left) now,
    /// then after every change gossip reports, until the node stops. A consumer that falls
    /// behind gets the latest view, not every step.
    public func gossipChanges() -> AsyncStream<[MembershipMember]> {
        let membership = node.membership
        let signals = AsyncStream.prepending((), to: node.gossipSubscribers.subscribe())
        return AsyncStream.mapping(signals) { _ in await membership.members() }
    }

    /// The members gossip shows alive or suspect, this node included, as of now.
    public func liveMembers() async -> Set<NodeID> {
        var live = Set(await node.membership.members().filter { $0.state.isLive }.map(\.id))
        live.insert(node.id)
        return live
    }

    /// Committed events with a sequence number above `seq`, in order, as they are applied (a
    /// reader that falls behind the retention window continues at the oldest retained event).
    /// Ends when the consuming task is cancelled.
    public func events(after seq: UInt64) -> AsyncStream<ClusterEvent> {
        let reader = EventReader(store: node.store, after: seq)
        return AsyncStream(unfolding: { await reader.next() })
    }
}

// MARK: - Event reading

/// Pages through the event log for ``RoleContext/events(after:)``: long polls for the next page,
/// hands out its events one at a time.
private actor EventReader {
    private let store: any ClusterStore
    private var last: UInt64
    private var page: [ClusterEvent] = []

    init(store: any ClusterStore, after seq: UInt64) {
        self.store = store
        last = seq
    }

    func next() async -> ClusterEvent? {
        while page.isEmpty {
            guard !Task.isCancelled else { return nil }
            let fetched = await store.waitForEvents(since: last, limit: 256, timeout: .seconds(30))
            if fetched.missedEvents(since: last) { last = fetched.firstSeq - 1 }
            page = fetched.events
        }
        let event = page.removeFirst()
        last = event.seq
        return event
    }
}
