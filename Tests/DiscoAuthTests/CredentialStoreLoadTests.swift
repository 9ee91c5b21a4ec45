import DiscoAuth
import DiscoCore
import Testing

// MARK: - Checking credentials under load

@Suite struct CredentialStoreLoadTests {
    static func store(_ password: StoredPassword, concurrentChecks: Int = 2, waitingChecks: Int = 64) throws -> CredentialStore {
        let file = AuthFile(path: "auth.json", users: [AuthUser(username: "alice", password: password, permissions: [.all])])
        return try CredentialStore(file: file, concurrentChecks: concurrentChecks, waitingChecks: waitingChecks)
    }

    /// A burst of requests with wrong passwords runs at most `concurrentChecks` slow checks at
    /// once and answers "busy" beyond what may wait, instead of a thread (and, for scrypt, its
    /// memory) per request; the right password still works afterwards.
    @Test func aFloodOfWrongPasswordsRunsAFewChecksAtATimeAndRefusesTheRest() async throws {
        let hashed = try StoredPassword.hash("right", scheme: .scrypt(logN: 14, blockSize: 8, parallelism: 1))
        let store = try CredentialStoreLoadTests.store(hashed, concurrentChecks: 2, waitingChecks: 4)
        let outcomes = await withTaskGroup(of: Authentication.self) { group in
            for attempt in 0..<40 {
                group.addTask { await store.authenticate(BasicCredentials(username: "alice", password: "wrong \(attempt)")) }
            }
            var all: [Authentication] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let counts = store.gate.counts
        #expect(counts.peakRunning <= 2, "\(counts.peakRunning) checks ran at once")
        let busy = outcomes.filter { if case .busy = $0 { true } else { false } }.count
        let rejected = outcomes.filter { if case .rejected = $0 { true } else { false } }.count
        #expect(busy + rejected == 40)
        #expect(busy > 0 && busy == counts.refused, "busy \(busy), refused \(counts.refused)")
        #expect(rejected >= 6, "at least the running and the waiting checks were made")
        guard case .caller(let caller) = await store.authenticate(BasicCredentials(username: "alice", password: "right")) else {
            Issue.record("the right password was not accepted after the flood")
            return
        }
        #expect(caller.username == "alice")
    }

    /// A user name that is not in the file costs the same slow check as a wrong password (so
    /// timing does not tell which names exist); with plain passwords only, neither is slow.
    @Test func unknownUsersCostTheSameCheckAsAWrongPassword() async throws {
        let hashed = try CredentialStoreLoadTests.store(try StoredPassword.hash("right", scheme: .pbkdf2SHA256(iterations: 1_000)))
        #expect(await hashed.authenticate(BasicCredentials(username: "mallory", password: "x"))
            == .rejected(reason: "unknown user or wrong password"))
        #expect(hashed.gate.counts.admitted == 1, "the unknown user was refused without a hash check")
        _ = await hashed.authenticate(BasicCredentials(username: "alice", password: "wrong"))
        #expect(hashed.gate.counts.admitted == 2)

        let plain = try CredentialStoreLoadTests.store(.plain("right"))
        _ = await plain.authenticate(BasicCredentials(username: "mallory", password: "x"))
        _ = await plain.authenticate(BasicCredentials(username: "alice", password: "wrong"))
        #expect(plain.gate.counts.admitted == 0)
    }
}
