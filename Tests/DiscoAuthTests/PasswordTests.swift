import DiscoAuth
import DiscoCore
import Testing

// MARK: - Stored passwords and credentials

@Suite struct PasswordTests {
    @Test(arguments: [StoredPassword.Scheme.pbkdf2SHA256(iterations: 1_000), .scrypt(logN: 10, blockSize: 8, parallelism: 1)])
    func hashVerifiesOnlyTheRightPassword(scheme: StoredPassword.Scheme) throws {
        let stored = try StoredPassword.hash("s3cret pass", scheme: scheme)
        #expect(stored.isHashed)
        #expect(try stored.verify("s3cret pass"))
        #expect(try !stored.verify("s3cret pasS"))
        #expect(try !stored.verify(""))
        // The text form reads back to the same hash.
        let reread = try StoredPassword(parsing: stored.text)
        #expect(reread == stored)
        #expect(try reread.verify("s3cret pass"))
    }

    @Test func twoHashesOfOnePasswordDiffer() throws {
        let scheme = StoredPassword.Scheme.pbkdf2SHA256(iterations: 1_000)
        #expect(try StoredPassword.hash("same", scheme: scheme) != StoredPassword.hash("same", scheme: scheme))
    }

    @Test func plainPasswordsCompareExactly() throws {
        let stored = try StoredPassword(parsing: "hunter2")
        #expect(stored == .plain("hunter2"))
        #expect(try stored.verify("hunter2"))
        #expect(try !stored.verify("hunter"))
    }

    @Test(arguments: [
        ("$pbkdf2-sha256$i=10$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "iterations must be 1000 to 10000000, found 10"),
        ("$pbkdf2-sha256$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "four $-separated parts"),
        ("$pbkdf2-sha256$i=1000$!!$aGFzaGhhc2hoYXNoaGFzaA", "the salt of the pbkdf2-sha256 hash must be base64"),
        ("$pbkdf2-sha256$n=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "takes one parameter, i=<iterations>"),
        ("$scrypt$ln=22,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "needs 4096 MiB per check"),
        ("$scrypt$ln=15,r=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "takes the parameters ln, r and p"),
    ])
    func malformedHashesAreExplained(text: String, expected: String) {
        do {
            _ = try StoredPassword(parsing: text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func basicCredentialsParse() {
        let credentials = BasicCredentials(username: "alice", password: "p:w d")
        #expect(credentials.headerValue == "Basic YWxpY2U6cDp3IGQ=")
        #expect(BasicCredentials(authorization: "Basic YWxpY2U6cDp3IGQ=") == credentials)
        #expect(BasicCredentials(authorization: "basic YWxpY2U6cDp3IGQ") == credentials)
        #expect(BasicCredentials(authorization: "Bearer abc") == nil)
        #expect(BasicCredentials(authorization: "Basic !!!") == nil)
        #expect(BasicCredentials(authorization: "Basic YWxpY2U=") == nil)  // "alice", no colon
    }
}

// MARK: - CredentialStore

@Suite struct CredentialStoreTests {
    func store() throws -> CredentialStore {
        let hashed = try StoredPassword.hash("admin-pass", scheme: .pbkdf2SHA256(iterations: 1_000)).text
        let text = """
            [{"username":"admin","password":"\(hashed)","perms":["all"]},
             {"username":"reader","password":"read","perms":["events-read","status"]},
             {"username":"*","perms":["ready","metrics"]}]
            """
        return try CredentialStore(file: AuthFile.parse(Array(text.utf8), path: "auth.json"))
    }

    @Test func anonymousCallersGetTheStarPermissions() async throws {
        let store = try store()
        guard case .caller(let caller) = await store.authenticate(authorization: nil) else {
            Issue.record("anonymous was rejected")
            return
        }
        #expect(caller.username == nil)
        #expect(caller.may(.ready) && caller.may(.metrics))
        #expect(!caller.may(.status) && !caller.may(.join))
    }

    @Test func usersGetTheirPermissionsPlusTheStarOnes() async throws {
        let store = try store()
        let reader = BasicCredentials(username: "reader", password: "read")
        guard case .caller(let caller) = await store.authenticate(authorization: reader.headerValue) else {
            Issue.record("reader was rejected")
            return
        }
        #expect(caller.username == "reader")
        #expect(caller.may(.eventsRead) && caller.may(.ready))
        #expect(!caller.may(.eventsWrite) && !caller.may(.remove))
        // A hashed password verifies, then again from the remembered HMAC.
        for _ in 0..<2 {
            guard case .caller(let admin) = await store.authenticate(BasicCredentials(username: "admin", password: "admin-pass")) else {
                Issue.record("admin was rejected")
                return
            }
            #expect(admin.may(.remove) && admin.may(.join))
        }
    }

    @Test func wrongCredentialsAreRejectedEvenWhereStarWouldAllow() async throws {
        let store = try store()
        for credentials in [BasicCredentials(username: "admin", password: "nope"), BasicCredentials(username: "who", password: "x"),
                            BasicCredentials(username: "*", password: "")] {
            if case .caller = await store.authenticate(credentials) { Issue.record("\(credentials.username) was accepted") }
        }
        _ = await store.authenticate(BasicCredentials(username: "admin", password: "admin-pass"))
        // A remembered success does not let another password through.
        if case .caller = await store.authenticate(BasicCredentials(username: "admin", password: "admin-pas")) {
            Issue.record("a wrong password was accepted after a right one")
        }
        if case .caller = await store.authenticate(authorization: "Token abc") { Issue.record("a non-Basic header was accepted") }
    }
}
