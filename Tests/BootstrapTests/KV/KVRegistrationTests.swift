import DiscoConsul
import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing
@testable import Bootstrap

/// Formation in the KV modes against each store: create-if-absent → bootstrap, else join, and
/// the node's own record recognised; store failures retried, logged and finally reported.
@Suite(.serialized) struct KVRegistrationTests {
    func registration(_ registry: any LeaderRegistry, _ me: LeaderRecord, voter: Bool = true,
                      retry: KVRetryPolicy = KVRetryPolicy(initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50)),
                      logger: Logger = capturingLogger().0) -> KVRegistration {
        KVRegistration(registry: registry, me: me, voter: voter, retry: retry, logger: logger, seed: 7)
    }

    // MARK: Outcomes

    @Test(arguments: KVBackend.allCases)
    func firstNodeBootstrapsSecondJoinsItAndARestartFindsItsOwnRecord(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend, etcdTTL: .seconds(60)) { store in
            let a = nodeRecord("a", port: 4001)
            let first = try await registration(store.registry(), a).register()
            guard case .bootstrapSingle(let created) = first else {
                Issue.record("the first node should create the record and bootstrap, got \(first)")
                return
            }
            #expect(created.record == a)

            let second = try await registration(store.registry(), nodeRecord("b", port: 5001)).register()
            guard case .join(let leaderAPI, let seen) = second else {
                Issue.record("the second node should join the first, got \(second)")
                return
            }
            #expect(leaderAPI == PeerAddress(host: "127.0.0.1", port: 4001, scheme: .http))
            #expect(leaderAPI.url == a.apiAddr)
            #expect(seen == created, "the joiner sees the record the first node wrote, not its own")

            // The same node again (a new process: a new session or lease) finds its own record.
            let again = try await registration(store.registry(), a).register()
            #expect(again == .ownRecord(created))
        }
    }

    /// The store applies the create but its answer is lost (a timeout; etcd moving on to its next
    /// endpoint). The retry finds a record naming this node: it was written under this process's
    /// own session or lease, so it is this node's creation, and the node bootstraps at once. It
    /// took the record for one left by an earlier run and waited for it to expire (a TTL, or
    /// two in Consul), while every other node read it and tried to join a node with no cluster.
    @Test(arguments: KVBackend.allCases)
    func aCreateWhoseAnswerWasLostCountsAsCreatedByTheRetry(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend, etcdTTL: .seconds(60)) { store in
            let a = nodeRecord("a", port: 4001)
            let registry = store.registry()
            registry.loseCreateAnswers.store(1, ordering: .relaxed)
            let outcome = try await registration(registry, a).register()
            guard case .bootstrapSingle(let created) = outcome else {
                Issue.record("the node's own create, applied but unanswered, should count as created; got \(outcome)")
                return
            }
            #expect(created.record == a)
            #expect(try await registry.read() == created)
            #expect(registry.loseCreateAnswers.load(ordering: .relaxed) == 0, "the answer was lost once")

            // A new process of the same node (same ID and addresses, a new session or lease) does
            // not count it as its own: the record may name the leader of a cluster that lives on.
            #expect(try await registration(store.registry(), a).register() == .ownRecord(created))
            try await registry.release()
        }
    }

    @Test(arguments: KVBackend.allCases)
    func nodesRegisteringTogetherElectExactlyOneBootstrapper(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend, etcdTTL: .seconds(60)) { store in
            let outcomes = try await withThrowingTaskGroup(of: KVRegistration.Outcome.self) { group in
                for index in 0..<5 {
                    let me = nodeRecord("n\(index)", port: UInt16(4001 + 10 * index))
                    let candidate = registration(store.registry(), me)
                    group.addTask { try await candidate.register() }
                }
                return try await group.reduce(into: [KVRegistration.Outcome]()) { $0.append($1) }
            }
            let winners = outcomes.compactMap { outcome -> VersionedLeaderRecord? in
                if case .bootstrapSingle(let record) = outcome { return record }
                return nil
            }
            #expect(winners.count == 1, "exactly one of five nodes bootstraps: \(outcomes)")
            let winner = try #require(winners.first)
            for outcome in outcomes where outcome != .bootstrapSingle(winner) {
                #expect(outcome == .join(leaderAPI: try PeerAddress(parsing: winner.record.apiAddr), record: winner))
            }
        }
    }

    @Test func nonVoterNeverCreatesTheRecordButJoinsOnceOneExists() async throws {
        try await KVStoreHarness.with(.memory) { store in
            let (logger, sink) = capturingLogger()
            let learner = nodeRecord("learner", port: 6001)
            let waiting = registration(store.registry(), learner, voter: false,
                                       retry: KVRetryPolicy(initialBackoff: .milliseconds(1), maxAttempts: 3), logger: logger)
            let error = await #expect(throws: KVRegistrationError.self) { try await waiting.register() }
            #expect(error?.code == .noLeaderRecord)
            #expect(error?.attempts == 3)
            #expect(try await store.registry().read() == nil, "a non-voter must not create the record")
            #expect(sink.lines.contains { $0.contains("waiting for a voter") })

            _ = try await registration(store.registry(), nodeRecord("a", port: 4001)).register()
            let joined = try await registration(store.registry(), learner, voter: false).register()
            guard case .join(let api, _) = joined else {
                Issue.record("the non-voter should join once a voter published the record, got \(joined)")
                return
            }
            #expect(api.port == 4001)
        }
    }

    // MARK: Failures

    @Test(arguments: KVBackend.allCases)
    func storeErrorsAreRetriedAndEachIsLoggedWithTheStoreName(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend, etcdTTL: .seconds(60)) { store in
            let (logger, sink) = capturingLogger()
            let registry = store.registry()
            registry.failNext.store(3, ordering: .relaxed)
            let outcome = try await registration(registry, nodeRecord("a", port: 4001), logger: logger).register()
            guard case .bootstrapSingle = outcome else {
                Issue.record("after three failures the node should still create the record, got \(outcome)")
                return
            }
            let failures = sink.lines.filter { $0.contains("level=warning") }
            #expect(failures.count == 3, "one warning per failed attempt: \(sink.lines)")
            #expect(failures.allSatisfy { $0.contains(registry.name) && $0.contains("connection refused") })
        }
    }

    @Test func givesUpAfterTheAttemptLimitNamingTheUnreachableEtcd() async throws {
        let refusing = try FreePort.Refusing()
        let client = HTTPClient()
        let registry = EtcdLeaderRegistry(gateway: EtcdGateway(endpoints: ["http://127.0.0.1:\(refusing.port)"], timeout: .seconds(2),
                                                               transport: client), discoKey: "disco")
        let (logger, sink) = capturingLogger()
        let attempt = registration(registry, nodeRecord("a", port: 4001),
                                   retry: KVRetryPolicy(initialBackoff: .milliseconds(10), maxAttempts: 3), logger: logger)
        let error = await #expect(throws: KVRegistrationError.self) { try await attempt.register() }
        await client.shutdown()
        #expect(error?.code == .storeFailed)
        #expect(error?.attempts == 3)
        #expect(error?.registry == registry.name)
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("gave up after 3 attempts") && text.contains("127.0.0.1:\(refusing.port)"), "\(text)")
        #expect(sink.lines.filter { $0.contains("level=warning") && $0.contains(registry.name) }.count == 3)
    }

    @Test func givesUpAtTheDeadlineWhenConsulStaysUnreachable() async throws {
        let refusing = try FreePort.Refusing()
        let client = HTTPClient()
        var settings = ConsulClient.Settings(address: "127.0.0.1:\(refusing.port)")
        settings.timeout = .seconds(2)
        let registry = ConsulLeaderRegistry(client: ConsulClient(settings: settings, transport: client), discoKey: "disco")
        let attempt = registration(registry, nodeRecord("a", port: 4001),
                                   retry: KVRetryPolicy(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(100),
                                                        deadline: .seconds(3)))
        let error = await #expect(throws: KVRegistrationError.self) { try await attempt.register() }
        await client.shutdown()
        #expect(error?.code == .storeFailed)
        #expect((error?.attempts ?? 0) >= 2, "it retried before the deadline")
        #expect(error?.detail.contains("127.0.0.1:\(refusing.port)") == true, "\(String(describing: error))")
    }

    @Test func recordWithoutAUsableAPIAddressIsReportedNamingTheField() async throws {
        try await KVStoreHarness.with(.memory) { store in
            _ = try await store.registry().createIfAbsent(LeaderRecord(id: "old", apiAddr: "", addr: "10.0.0.1:4002"))
            let attempt = registration(store.registry(), nodeRecord("a", port: 4001),
                                       retry: KVRetryPolicy(initialBackoff: .milliseconds(1), maxAttempts: 2))
            let error = await #expect(throws: KVRegistrationError.self) { try await attempt.register() }
            #expect(error?.code == .malformedRecord)
            #expect(error?.detail.contains("api_addr") == true)
            #expect(error?.detail.contains("\"old\"") == true)
        }
    }

    @Test func backoffGrowsWithJitterUpToTheCap() {
        let policy = KVRetryPolicy(initialBackoff: .milliseconds(100), maxBackoff: .seconds(1))
        var random = DeterministicRandom(seed: 1)
        for failures in 1...10 {
            let base = min(Duration.milliseconds(100) * (1 << min(failures - 1, 20)), .seconds(1))
            let delay = policy.backoff(afterFailures: failures, random: &random)
            #expect(delay >= base / 2 && delay <= base, "after \(failures) failures: \(delay) not in [\(base / 2), \(base)]")
        }
        #expect(!policy.allowsAnotherAttempt(after: 1, elapsed: .seconds(121)))
        #expect(KVRetryPolicy(deadline: nil, maxAttempts: 2).allowsAnotherAttempt(after: 1, elapsed: .seconds(1000)))
        #expect(!KVRetryPolicy(deadline: nil, maxAttempts: 2).allowsAnotherAttempt(after: 2, elapsed: .zero))
    }
}
