import DiscoTestKit
import Foundation
import Testing

/// A bad `-auth` file makes `discod` exit 2 before the data directory is touched, naming the
/// file, the entry and the fix; so does a `-join-as` user the file cannot serve.
@Suite struct AuthFileErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let file: String
        let extra: [String]
        let mentions: [String]
        var testDescription: String { file }
    }

    static let cases: [Case] = [
        Case(file: #"[{"username":"admin","password":"pw","perms":["all"]},{"username":"node","password":"pw","perms":["jion"]}]"#,
             extra: [], mentions: [#"entry 2 ("node"): "perms" has an unknown permission "jion"; use only all, join, join-read-only"#]),
        Case(file: #"{"username":"admin"}"#, extra: [], mentions: ["must be a JSON array of users, found an object"]),
        Case(file: #"[{"username":"node","password":"$pbkdf2-sha256$i=10$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA","perms":["join"]}]"#,
             extra: [], mentions: [#"entry 1 ("node"): "password": pbkdf2-sha256 iterations must be 1000 to 10000000, found 10"#,
                                   "make a new hash with discoctl hash-password"]),
        Case(file: #"[{"username":"node","password":"pw","perms":["join"]}]"#, extra: ["-join-as", "nobody"],
             mentions: [#"discod: -join-as: user "nobody" is not in the auth file"#]),
    ]

    @Test(arguments: cases)
    func badAuthFileExitsTwoNamingTheEntryWithoutCreatingTheDataDirectory(_ bad: Case) async throws {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appending(path: "auth.json")
        try bad.file.write(to: file, atomically: true, encoding: .utf8)
        let outcome = try await ExecutableRunner.run("discod", ["-node-id", "1", "-auth", file.path] + bad.extra + ["data"], in: directory)
        #expect(outcome.status == 2, "\(outcome)")
        if bad.extra.isEmpty {
            #expect(outcome.standardError.hasPrefix("discod: -auth: auth file \"\(file.path)\""), "\(outcome)")
        }
        for text in bad.mentions {
            #expect(outcome.standardError.contains(text), "stderr: \(outcome.standardError)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appending(path: "data").path))
    }
}
