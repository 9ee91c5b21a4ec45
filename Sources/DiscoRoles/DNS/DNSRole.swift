import DNSServerCore
import DiscoCore
import DiscoDNSMessage
import DiscoDNSServer
import DiscoLifecycle
import DiscoNet
import Foundation
import NodeRuntime
import Synchronization

// MARK: - DNSRole

/// The `dns` role: serves the cluster over DNS (UDP and TCP) at ``DNSRoleConfiguration/server``
/// and consumes the events for `dns`.
///
/// The zone (`<id>.node.<domain>`, `<role>.role.<domain>`, `_<role>._tcp.<domain>` SRV with API
/// ports, `leader.<domain>`, SOA and NS) is rebuilt from the replicated member records, SWIM's
/// view of who is alive and the leader whenever one of them changes, and swapped into the
/// server atomically: a member gossip declares dead leaves the role and SRV answers within the
/// failure detection time. The events for `dns` are consumed with a durable cursor (this node's
/// ID as the consumer) and counted by type.
public final class DNSRole: Role {
    /// The role's name.
    public static let roleName = "dns"
    public let name = DNSRole.roleName
    public let configuration: DNSRoleConfiguration

    private struct State {
        var server: DNSServer?
        var members: [ClusterMember] = []
        var gossip: [NodeID: MembershipState] = [:]
        var leader: NodeID?
        var serial: UInt32 = 0
        var served = 0
        var omissions: [String] = []
        var rebuilds = 0
        var eventsByType = EventTypeCounts()
        var lastEvent: UInt64 = 0
        var unknown: UnknownMembers
        /// When the zone must be rebuilt for a member whose grace ends.
        var nextUnknownExpiry: ContinuousClock.Instant?
    }

    private let state: Mutex<State>
    /// The addresses of the host names members advertise.
    private let hostAddresses: MemberHostAddresses
    /// Asks the running role for a rebuild (a lookup answered after its rebuild gave up on it).
    private let rebuildRequests = RebuildRequests()

    /// A role serving `configuration`, resolving the host names members advertise with the system resolver.
    public convenience init(_ configuration: DNSRoleConfiguration) {
        self.init(configuration, resolve: DNSRole.systemResolve)
    }

    /// A role resolving member host names with `resolve` (tests).
    init(_ configuration: DNSRoleConfiguration, resolve: @escaping HostNameResolution) {
        self.configuration = configuration
        let requests = rebuildRequests
        hostAddresses = MemberHostAddresses(timeout: configuration.hostLookupTimeout, staleLimit: configuration.staleHostAddressLimit,
                                            resolve: resolve, lateAnswer: { requests.request() })
        state = Mutex(State(unknown: UnknownMembers(grace: configuration.unknownMemberGrace)))
    }

    /// The system resolver (`getaddrinfo`: `/etc/hosts`, nsswitch, resolv.conf).
    static let systemResolve: HostNameResolution = { host in
        Array(Set(try await SocketAddress.resolveAsync(host: host, port: 0).compactMap { DNSIPAddress(bytes: $0.addressBytes) })).sorted()
    }

    // MARK: Running

    public func run(_ context: RoleContext) async throws {
        let server: DNSServer
        do {
            server = try await DNSServer.start(configuration: configuration.server, zone: DNSZone.empty(configuration.zone))
        } catch {
            throw NodeFailure("the dns role cannot serve on -dns-addr \(PeerAddress(host: configuration.server.host, port: configuration.server.port)): \(error)")
        }
        let serial = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))
        state.withLock {
            $0.server = server
            $0.serial = serial
        }
        context.logger.info("serving \(configuration.zone.domain) over UDP and TCP on "
            + server.localAddresses.map(\.description).joined(separator: ", "))
        // Every way out stops the server: a graceful shutdown, the task's cancellation (which
        // `cancelOnGracefulShutdown` may rethrow as the operation's `CancellationError`) and an
        // error. Otherwise the role keeps the server and its port stays bound.
        do {
            try await serve(server, context: context)
        } catch {
            await stop(server)
            throw error
        }
        await stop(server)
    }

    /// Feeds the server until a graceful shutdown (returns) or cancellation (may throw).
    private func serve(_ server: DNSServer, context: RoleContext) async throws {
        let (rebuilds, rebuild) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        rebuildRequests.set(rebuild)
        defer {
            rebuildRequests.set(nil)
            rebuild.finish()
        }
        _ = try await cancelOnGracefulShutdown { [self] in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await members in context.membershipChanges() {
                        self.membersChanged(members)
                        rebuild.yield()
                    }
                }
                group.addTask {
                    for await members in context.gossipChanges() {
                        self.gossipChanged(members)
                        rebuild.yield()
                    }
                }
                group.addTask {
                    for await leadership in context.leadershipChanges() {
                        self.leaderChanged(leadership.leader)
                        rebuild.yield()
                    }
                }
                group.addTask {
                    for await _ in rebuilds { await self.rebuild(server, local: context.nodeID, logger: context.logger) }
                }
                group.addTask {
                    // A member gossip does not know leaves the zone when its grace ends, and a host
                    // name whose lookups fail loses its last addresses when they grow too old.
                    while true {
                        try await Task.sleep(for: .seconds(1))
                        let now = ContinuousClock.now
                        let due = [self.state.withLock { $0.nextUnknownExpiry }, self.hostAddresses.nextStaleExpiry()].compactMap(\.self).min()
                        if let due, now >= due { rebuild.yield() }
                    }
                }
                group.addTask {
                    try await context.consumeEvents(for: DNSRole.roleName) { event in self.consumed(event, logger: context.logger) }
                }
                try await group.waitForAll()
            }
        }
    }

    /// Lets go of the server and closes its sockets.
    private func stop(_ server: DNSServer) async {
        state.withLock { $0.server = nil }
        hostAddresses.cancelLookups()
        await server.stop()
    }

    // MARK: The view

    /// The member records changed.
    func membersChanged(_ members: [ClusterMember]) {
        state.withLock { $0.members = members }
    }

    /// SWIM's view changed.
    func gossipChanged(_ members: [MembershipMember]) {
        let gossip = Dictionary(members.map { ($0.id, $0.state) }, uniquingKeysWith: { first, _ in first })
        state.withLock { state in
            state.gossip = gossip
            state.unknown.heard(gossip.keys)
        }
    }

    /// The leader changed.
    func leaderChanged(_ leader: NodeID?) {
        state.withLock { $0.leader = leader }
    }

    // MARK: Rebuilding

    /// Builds a snapshot from the current view and swaps it in.
    private func rebuild(_ server: DNSServer, local: NodeID, logger: Logger) async {
        let (zone, source) = await buildZone(local: local)
        server.update(zone)
        let served = source.members.filter(\.state.isServed).count
        let omissions = zone.omissions.map(\.description)
        let changed = state.withLock { state -> Bool in
            defer {
                state.served = served
                state.omissions = omissions
                state.rebuilds += 1
            }
            return state.served != served || state.omissions != omissions
        }
        if changed {
            logger.info("zone \(configuration.zone.domain) serial \(source.serial): \(served) of \(source.members.count) members served, leader \(source.leader?.rawValue ?? "none")"
                + (omissions.isEmpty ? "" : "; left out: \(omissions.joined(separator: "; "))"))
        }
    }

    /// A snapshot of the current view, and what it was built from.
    func buildZone(local: NodeID) async -> (DNSZone, DNSZoneSource) {
        let now = ContinuousClock.now
        let (members, gossip, unknownServed, leader, serial) = state.withLock { state in
            state.serial &+= 1
            let unknown = Set(state.members.map(\.id).filter { $0 != local && state.gossip[$0] == nil })
            let served = state.unknown.served(unknown: unknown, records: Set(state.members.map(\.id)), now: now)
            state.nextUnknownExpiry = state.unknown.nextExpiry(after: now)
            return (state.members, state.gossip, served, state.leader, state.serial)
        }
        // Members advertised by host name are served at the addresses the name resolves to
        // (every name at once, each waited for at most hostLookupTimeout; see MemberHostAddresses).
        let hosts = Set(members.compactMap { member -> String? in
            guard let host = (try? PeerAddress(parsing: member.apiAddress))?.host, ClusterZone.numericAddress(host) == nil else { return nil }
            return host
        })
        let resolved = await hostAddresses.addresses(of: hosts)
        let source = ClusterZone.source(members: members, gossip: gossip, unknownServed: unknownServed, local: local, leader: leader,
                                        serial: serial) { host in
            ClusterZone.numericAddress(host).map { [$0] } ?? resolved[host] ?? []
        }
        return (DNSZone(settings: configuration.zone, source: source), source)
    }

    private func consumed(_ event: ClusterEvent, logger: Logger) {
        let type = event.target.type ?? "untyped"
        state.withLock {
            $0.eventsByType.count(type)
            $0.lastEvent = event.seq
        }
        logger.info("consumed event \(event.seq) (\(type))")
    }

    // MARK: Reporting

    /// Where the server listens (after it started).
    public var addresses: [SocketAddress] { state.withLock { $0.server?.localAddresses } ?? [] }

    public func readinessProblem() async -> String? {
        state.withLock { $0.server == nil ? "the DNS server is not listening yet" : $0.rebuilds == 0 ? "no zone built yet" : nil }
    }

    public func status() async -> JSONValue? {
        let state = state.withLock { $0 }
        var object = JSONObject()
        object.append(key: "addr", value: state.server.map { .string($0.localAddresses[0].description) } ?? .null)
        object.append(key: "domain", value: .string(configuration.zone.domain.description))
        object.append(key: "ttl", value: .number(JSONNumber(Int(configuration.zone.ttl))))
        object.append(key: "serial", value: .number(JSONNumber(Int(state.serial))))
        object.append(key: "members_served", value: .number(JSONNumber(state.served)))
        object.append(key: "omissions", value: .array(state.omissions.map(JSONValue.string)))
        object.append(key: "events_consumed", value: .number(JSONNumber(state.eventsByType.total)))
        object.append(key: "last_event", value: .number(JSONNumber(state.lastEvent)))
        return .object(object)
    }

    public func metricLines() async -> [String] {
        let (server, served, byType) = state.withLock { ($0.server, $0.served, $0.eventsByType.byType) }
        var lines = [
            "# HELP disco_dns_zone_members Members the DNS role's zone serves (not declared dead).",
            "# TYPE disco_dns_zone_members gauge",
            "disco_dns_zone_members \(served)",
            "# HELP disco_dns_events_consumed_total Events for the dns role this node consumed, by type (the first 63 types by name, later ones as \"other\").",
            "# TYPE disco_dns_events_consumed_total counter",
        ]
        lines += byType.sorted { $0.key < $1.key }.map { "disco_dns_events_consumed_total{type=\"\(Self.escape($0.key))\"} \($0.value)" }
        guard let server else { return lines }
        let statistics = await server.statistics()
        lines += ["# HELP disco_dns_queries_total DNS queries answered, by transport and outcome.", "# TYPE disco_dns_queries_total counter"]
        for transport in DNSTransport.allCases {
            lines.append("disco_dns_queries_total{transport=\"\(transport)\"} \(statistics.queries[transport] ?? 0)")
        }
        lines += ["# HELP disco_dns_answers_total DNS answers by outcome.", "# TYPE disco_dns_answers_total counter"]
        for outcome in DNSReply.Outcome.allCases {
            lines.append("disco_dns_answers_total{outcome=\"\(outcome)\"} \(statistics.outcomes[outcome] ?? 0)")
        }
        lines += ["# HELP disco_dns_truncated_total UDP answers truncated (the client retries over TCP).", "# TYPE disco_dns_truncated_total counter",
                  "disco_dns_truncated_total \(statistics.truncated)"]
        return lines
    }

    private static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

// MARK: - Rebuilds asked for from outside the run

/// Where a lookup that ended late asks the running role for a rebuild (nowhere when not running).
private final class RebuildRequests: Sendable {
    private let continuation = Mutex<AsyncStream<Void>.Continuation?>(nil)

    func set(_ continuation: AsyncStream<Void>.Continuation?) {
        self.continuation.withLock { $0 = continuation }
    }

    func request() {
        _ = continuation.withLock { $0 }?.yield()
    }
}
