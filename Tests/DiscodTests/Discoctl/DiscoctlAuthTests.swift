import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization
import Testing

/// `discoctl -user/-password` (and `DISCO_USER`/`DISCO_PASSWORD`) against small in-process HTTP
/// servers that check the `Authorization` header, as a node with `-auth` does: 401 without it.
@Suite struct DiscoctlAuthTests {
    /// `alice:s3cret:x` in base64 (the password may hold a colon; the user may not).
    static let expected = "Basic " + Data("alice:s3cret:x".utf8).base64EncodedString()

    /// A server that records every request's `Authorization` header and answers 401 unless it
    /// is `expected`; `handle` answers the authorized requests.
    final class CheckingServer: Sendable {
        struct Seen: Sendable {
            let path: String
            let authorization: String?
        }

        /// The requests received, in order.
        final class Log: Sendable {
            private let entries = Mutex<[Seen]>([])
            func append(_ seen: Seen) { entries.withLock { $0.append(seen) } }
            var all: [Seen] { entries.withLock { $0 } }
        }

        let server: HTTPServer
        let log = Log()

        init(handle: @escaping @Sendable (HTTPRequest) -> HTTPResponse) async throws {
            let log = log
            server = try await HTTPServer.start { request in
                let authorization = request.headers["Authorization"]
                log.append(Seen(path: request.path, authorization: authorization))
                guard authorization == DiscoctlAuthTests.expected else {
                    var headers = HTTPHeaders()
                    headers.add(name: "WWW-Authenticate", value: #"Basic realm="disco""#)
                    headers.add(name: "Content-Type", value: "application/json")
                    return HTTPResponse(status: 401, headers: headers, bytes: Array(#"{"error":"credentials required"}"#.utf8))
                }
                return handle(request)
            }
        }

        var address: String { "127.0.0.1:\(server.localAddress.port)" }
        var requests: [Seen] { log.all }
    }

    static func json(_ text: String, status: Int = 200) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: headers, bytes: Array(text.utf8))
    }

    @Test func credentialsGoWithEveryRequestIncludingRedirectsToTheLeader() async throws {
        let leader = try await CheckingServer { request in
            request.path == "/remove" ? Self.json(#"{"removed":"3"}"#) : Self.json(#"{"error":"no route"}"#, status: 404)
        }
        let leaderAddress = leader.address
        let follower = try await CheckingServer { request in
            var headers = HTTPHeaders()
            headers.add(name: "Location", value: "http://\(leaderAddress)\(request.target)")
            return HTTPResponse(status: 307, headers: headers, bytes: [])
        }
        defer { Task { await follower.server.shutdown(gracePeriod: .zero); await leader.server.shutdown(gracePeriod: .zero) } }

        let removed = try await Discoctl.run(["remove", "3", "-addr", follower.address, "-user", "alice", "-password", "s3cret:x"])
        #expect(removed.status == 0, "\(removed)")
        #expect(removed.standardOutput == "removed node 3\n", "\(removed)")
        #expect(follower.requests.map(\.authorization) == [Self.expected])
        #expect(leader.requests.map(\.path) == ["/remove"])
        #expect(leader.requests.map(\.authorization) == [Self.expected], "the redirected request lost its credentials")
    }

    @Test func credentialsMayComeFromTheEnvironmentAndFlagsWin() async throws {
        let node = try await CheckingServer { _ in Self.json(#"{"id":"1","api_addr":"http://127.0.0.1:1","addr":"127.0.0.1:2"}"#) }
        defer { Task { await node.server.shutdown(gracePeriod: .zero) } }

        let fromEnvironment = try await Discoctl.run(["leader", "-addr", node.address, "-json"],
                                                     environment: ["DISCO_USER": "alice", "DISCO_PASSWORD": "s3cret:x"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment)")
        #expect(Discoctl.json(fromEnvironment)?["id"]?.stringValue == "1")
        // The password from the environment with the user from a flag, before the command.
        let mixed = try await Discoctl.run(["-user", "alice", "leader", "-addr", node.address],
                                           environment: ["DISCO_PASSWORD": "s3cret:x"])
        #expect(mixed.status == 0, "\(mixed)")
        // A flag wins over the environment.
        let overridden = try await Discoctl.run(["leader", "-addr", node.address, "-password", "wrong"],
                                                environment: ["DISCO_USER": "alice", "DISCO_PASSWORD": "s3cret:x"])
        #expect(overridden.status == 1, "\(overridden)")
        #expect(node.requests.map(\.authorization) == [Self.expected, Self.expected, "Basic " + Data("alice:wrong".utf8).base64EncodedString()])
    }

    @Test func withoutCredentialsThe401SaysWhatToGive() async throws {
        let node = try await CheckingServer { _ in Self.json("{}") }
        defer { Task { await node.server.shutdown(gracePeriod: .zero) } }
        let outcome = try await Discoctl.run(["status", "-addr", node.address])
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.standardError.contains("answered GET /status with 401: credentials required (give -user and -password, "
                                               + "or set DISCO_USER and DISCO_PASSWORD)"), "\(outcome)")
        #expect(node.requests.map(\.authorization) == [nil])
    }

    /// Half of a credential pair in the environment stops only the commands that ask a node:
    /// `hash-password` (and `lookup`) send nothing, so a `DISCO_PASSWORD` exported for other
    /// commands is not their business.
    @Test func aCommandThatAsksNoNodeIgnoresCredentialsInTheEnvironment() async throws {
        let hashed = try await Discoctl.run(["hash-password", "-iterations", "10000"], environment: ["DISCO_PASSWORD": "s3cret"],
                                            input: "admin-pass\n")
        #expect(hashed.status == 0, "\(hashed)")
        #expect(hashed.standardOutput.hasPrefix("$pbkdf2-sha256$"), "\(hashed)")
        let asking = try await Discoctl.run(["status", "-addr", "127.0.0.1:1"], environment: ["DISCO_PASSWORD": "s3cret"])
        #expect(asking.status == 2, "a command that asks a node still refuses half a pair: \(asking)")
        #expect(asking.standardError.contains("DISCO_PASSWORD is given but no user"), "\(asking)")
    }
}
