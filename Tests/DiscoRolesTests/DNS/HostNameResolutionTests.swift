import DNSServerCore
import DiscoCore
import DiscoDNSMessage
import DiscoNet
@testable import DiscoRoles
import DiscoTestKit
import NodeRuntime
import Synchronization
import Testing

/// Members advertised by host name: a name whose resolver is slow or unreachable must not hold
/// up the zone (the removal of dead members, the serving of new ones), and a name whose lookups
/// start failing keeps its last addresses for a while.
@Suite struct HostNameResolutionTests {
    static func member(_ id: NodeID, _ api: String) -> ClusterMember {
        ClusterMember(id: id, raftAddress: "127.0.0.9:4002", apiAddress: api, voter: true, roles: ["web"])
    }

    static let members = [member("n1", "10.0.0.1:4001"), member("n2", "slow.test:4001"), member("n3", "fast.test:4001")]

    static func address(_ text: String) -> DNSIPAddress? { ClusterZone.numericAddress(text) }

    static func role(_ resolver: ScriptedResolver, configure: (inout DNSRoleConfiguration) -> Void = { _ in }) throws -> DNSRole {
        var configuration = try DNSRoleConfiguration(address: "127.0.0.1:0", domain: "disco.test.")
        configure(&configuration)
        let role = DNSRole(configuration, resolve: { try await resolver.resolve($0) })
        role.membersChanged(members)
        role.leaderChanged("n1")
        return role
    }

    /// The members' addresses in a zone built by `role`, waiting for the build with a generous
    /// deadline (it hung for good behind a lookup that never ended).
    static func build(_ role: DNSRole) async throws -> [NodeID: [String]] {
        let result = try await outcome(of: "the zone to be built", within: .seconds(60)) { await role.buildZone(local: "n1").1 }
        let source = try result.get()
        return Dictionary(source.members.map { ($0.id, $0.addresses.map(\.description)) }, uniquingKeysWith: { first, _ in first })
    }

    @Test func aNameWhoseResolverNeverAnswersDoesNotHoldUpTheZone() async throws {
        let resolver = ScriptedResolver()
        resolver.set("fast.test", .answer(["10.0.0.3"]))
        resolver.set("slow.test", .hang)
        defer { resolver.releaseAll() }
        let role = try Self.role(resolver)
        let first = try await Self.build(role)
        #expect(first == ["n1": ["10.0.0.1"], "n2": [], "n3": ["10.0.0.3"]])
        // The next rebuild (a member died, say) is not held up either, and the lookup still
        // running is not started again: lookups of a name that never answers do not pile up.
        role.gossipChanged([MembershipMember(id: "n3", address: PeerAddress(host: "10.0.0.3", port: 4002), apiAddress: nil, voter: true,
                                             state: .dead)])
        let second = await role.buildZone(local: "n1").1
        #expect(second.members.first { $0.id == "n3" }?.state == .dead)
        #expect(resolver.calls("slow.test") == 1)
        #expect(resolver.calls("fast.test") == 2)
    }

    @Test func aNameWhoseLookupsStartFailingKeepsItsLastAddresses() async throws {
        let resolver = ScriptedResolver()
        resolver.set("fast.test", .answer(["10.0.0.3"]))
        resolver.set("slow.test", .answer(["10.0.0.2", "fd00::2"]))
        defer { resolver.releaseAll() }
        let role = try Self.role(resolver)
        #expect(try await Self.build(role) == ["n1": ["10.0.0.1"], "n2": ["10.0.0.2", "fd00::2"], "n3": ["10.0.0.3"]])
        // Its resolver stops answering; the other's fails outright.
        resolver.set("slow.test", .hang)
        resolver.set("fast.test", .fail)
        #expect(try await Self.build(role) == ["n1": ["10.0.0.1"], "n2": ["10.0.0.2", "fd00::2"], "n3": ["10.0.0.3"]])
        // It answers again, with a new address: served at the next rebuild.
        resolver.set("fast.test", .answer(["10.0.0.33"]))
        #expect(try await Self.build(role)["n3"] == ["10.0.0.33"])
    }

    @Test func aLookupThatAnswersAfterItsRebuildGaveUpAsksForARebuild() async throws {
        let resolver = ScriptedResolver()
        resolver.set("slow.test", .late(["10.0.0.2"]))
        defer { resolver.releaseAll() }
        let asked = Mutex(0)
        // The first lookup is held until released, so it runs out its time however long that is.
        let addresses = MemberHostAddresses(timeout: .seconds(3), staleLimit: .seconds(300), resolve: { try await resolver.resolve($0) },
                                            lateAnswer: { asked.withLock { $0 += 1 } })
        #expect(await addresses.addresses(of: ["slow.test"]) == ["slow.test": []])
        resolver.releaseAll()
        try await waitUntil("a rebuild to be asked for", timeout: .seconds(60)) { asked.withLock { $0 } > 0 }
        #expect(await addresses.addresses(of: ["slow.test"]) == ["slow.test": [try #require(Self.address("10.0.0.2"))]])
        #expect(resolver.calls("slow.test") == 2)
        // The second lookup answers at once, but a starved test process may still see it out of
        // time (then it asks too): at most one request per late lookup. That an answer in time
        // asks for nothing is the next test's, with a time no scheduling delay runs out.
        #expect((1...2).contains(asked.withLock { $0 }))
    }

    @Test func aLookupThatAnswersInTimeAsksForNoRebuild() async throws {
        let resolver = ScriptedResolver()
        resolver.set("fast.test", .answer(["10.0.0.3"]))
        let asked = Mutex(0)
        let addresses = MemberHostAddresses(timeout: .seconds(300), staleLimit: .seconds(300), resolve: { try await resolver.resolve($0) },
                                            lateAnswer: { asked.withLock { $0 += 1 } })
        let address = try #require(Self.address("10.0.0.3"))
        #expect(await addresses.addresses(of: ["fast.test"]) == ["fast.test": [address]])
        #expect(await addresses.addresses(of: ["fast.test"]) == ["fast.test": [address]])
        #expect(resolver.calls("fast.test") == 2)
        #expect(asked.withLock { $0 } == 0)
    }

    @Test func staleAddressesAreServedForTheLimitOnly() async throws {
        let resolver = ScriptedResolver()
        resolver.set("a.test", .answer(["10.0.0.1"]))
        let kept = MemberHostAddresses(timeout: .seconds(30), staleLimit: .seconds(300), resolve: { try await resolver.resolve($0) }, lateAnswer: {})
        let dropped = MemberHostAddresses(timeout: .seconds(30), staleLimit: .zero, resolve: { try await resolver.resolve($0) }, lateAnswer: {})
        let address = try #require(Self.address("10.0.0.1"))
        #expect(await kept.addresses(of: ["a.test"]) == ["a.test": [address]])
        #expect(await dropped.addresses(of: ["a.test"]) == ["a.test": [address]])
        #expect(kept.nextStaleExpiry() == nil)
        resolver.set("a.test", .fail)
        #expect(await kept.addresses(of: ["a.test"]) == ["a.test": [address]])
        #expect(await dropped.addresses(of: ["a.test"]) == ["a.test": []])
        // The zone is rebuilt when the kept addresses grow too old.
        let expiry = try #require(kept.nextStaleExpiry())
        #expect(expiry > ContinuousClock.now + .seconds(200))
        #expect(dropped.nextStaleExpiry() == nil)
    }
}

// MARK: - A resolver the test scripts

/// Answers each name as told: addresses, a failure, or never (until ``releaseAll()``; like
/// `getaddrinfo`, it ignores cancellation). Counts the lookups of each name.
final class ScriptedResolver: Sendable {
    enum Behaviour: Sendable {
        case answer([String])
        case fail
        case hang
        /// Answers once released.
        case late([String])
    }

    struct Failure: Error {}

    private struct State {
        var behaviours: [String: Behaviour] = [:]
        var calls: [String: Int] = [:]
        var hanging: [CheckedContinuation<Void, Never>] = []
        var released = false
    }

    private let state = Mutex(State())

    func set(_ host: String, _ behaviour: Behaviour) {
        state.withLock { $0.behaviours[host] = behaviour }
    }

    func calls(_ host: String) -> Int { state.withLock { $0.calls[host] ?? 0 } }

    /// Lets every hanging lookup end (with a failure).
    func releaseAll() {
        let hanging = state.withLock { state in
            state.released = true
            defer { state.hanging = [] }
            return state.hanging
        }
        for continuation in hanging { continuation.resume() }
    }

    func resolve(_ host: String) async throws -> [DNSIPAddress] {
        let behaviour = state.withLock { state in
            state.calls[host, default: 0] += 1
            return state.behaviours[host] ?? .fail
        }
        switch behaviour {
        case .answer(let addresses): return addresses.compactMap(ClusterZone.numericAddress)
        case .fail: throw Failure()
        case .hang:
            await untilReleased()
            throw Failure()
        case .late(let addresses):
            await untilReleased()
            return addresses.compactMap(ClusterZone.numericAddress)
        }
    }

    private func untilReleased() async {
        await withCheckedContinuation { continuation in
            let released = state.withLock { state in
                if !state.released { state.hanging.append(continuation) }
                return state.released
            }
            if released { continuation.resume() }
        }
    }
}
