import Testing
@testable import DiscoCore

// MARK: - The -auth file

@Suite struct AuthFileTests {
    func parse(_ text: String) throws(AuthFileError) -> AuthFile { try AuthFile.parse(Array(text.utf8), path: "auth.json") }

    func error(_ text: String) -> AuthFileError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func readsUsersAndTheStarEntry() throws {
        let file = try parse("""
            [{"username":"admin","password":"secret","perms":["all"]},
             {"username":"node","password":"$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA","perms":["join","remove"]},
             {"username":"*","perms":["ready","metrics"]}]
            """)
        #expect(file.users.map(\.username) == ["admin", "node", "*"])
        #expect(file.user("admin")?.password == .plain("secret"))
        #expect(file.user("node")?.password?.isHashed == true)
        #expect(file.user("node")?.permissions == [.join, .remove])
        #expect(file.anonymousPermissions == [.ready, .metrics])
        #expect(file.user("admin")?.permissions.grants(.eventsWrite) == true)
    }

    @Test func everyPermissionNameIsKnown() throws {
        let names = Permission.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ",")
        let file = try parse(#"[{"username":"u","password":"p","perms":[\#(names)]}]"#)
        #expect(file.user("u")?.permissions == Set(Permission.allCases))
        #expect(Permission.list.hasPrefix("all, join, join-read-only, remove, events-write, events-read, status, ready, metrics"))
    }

    @Test(arguments: [
        (#"{"username":"u"}"#, "must be a JSON array of users, found an object"),
        ("[", "is not valid JSON"),
        (#"[{"username":"u","password":"p","perms":["raed"]}]"#, #"entry 1 ("u"): "perms" has an unknown permission "raed"; use only all, join"#),
        (#"[{"username":"u","password":"p","perms":["all"]},{"username":"u","password":"q","perms":[]}]"#,
         #"entry 2 ("u"): repeats user "u" (entry 1)"#),
        (#"[{"username":"u","perms":["all"]}]"#, #"entry 1 ("u"): has no "password"; set "password""#),
        (#"[{"username":"*","password":"x","perms":["ready"]}]"#, #""*" stands for every caller and takes no password"#),
        (#"[{"username":"u","password":"p","perms":["all"],"role":"x"}]"#, #"has an unknown field "role""#),
        (#"[{"password":"p","perms":["all"]}]"#, #"entry 1: needs "username""#),
        (#"[{"username":"a:b","password":"p","perms":[]}]"#, "without ':'"),
        (#"[{"username":"u","password":"p"}]"#, #"needs "perms""#),
        (#"[{"username":"u","password":"$scrypt$ln=15$x$y","perms":[]}]"#, #""password": the salt of the scrypt hash must be base64"#),
        (#"[{"username":"u","password":"","perms":[]}]"#, #"has an empty "password""#),
        (#"[7]"#, "entry 1: must be an object, found a number"),
    ])
    func badFilesNameTheEntryAndTheFix(text: String, expected: String) {
        guard let error = error(text) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(error.description.hasPrefix(#"auth file "auth.json""#), "\(error)")
        #expect(error.description.contains(expected), "\(error)")
    }

    @Test func base64RoundTrips() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
            #expect(Base64.decodeUnpadded(Base64.encode(bytes, padded: false)) == bytes)
        }
        #expect(Base64.encode(Array("any carnal pleas".utf8)) == "YW55IGNhcm5hbCBwbGVhcw==")
    }
}
