import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization
import Testing

/// What discoctl says when the node at -addr answers but sends the request on to a leader that
/// cannot be reached: the failure is the leader's, not the node's.
@Suite struct DiscoctlRedirectTests {
    @Test(arguments: [["remove", "3"], ["transfer-leadership", "2"]])
    func anUnreachableLeaderIsNamedNotTheNodeThatRedirected(command: [String]) async throws {
        // A port nothing listens on: the leader the follower names is down.
        let leaderPort = try DiscodCluster.ports().http
        let follower = try await HTTPServer.start { request in
            var headers = HTTPHeaders()
            headers.add(name: "Location", value: "http://127.0.0.1:\(leaderPort)\(request.target)")
            headers.add(name: "Content-Type", value: "application/json")
            return HTTPResponse(status: 307, headers: headers, bytes: Array(#"{"error":"not the leader"}"#.utf8))
        }
        defer { Task { await follower.shutdown(gracePeriod: .zero) } }
        let followerAddress = "127.0.0.1:\(follower.localAddress.port)"

        let outcome = try await Discoctl.run(command + ["-addr", followerAddress])
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.standardError.contains("127.0.0.1:\(leaderPort)"), "the leader that could not be reached is not named: \(outcome)")
        #expect(!outcome.standardError.contains("cannot reach the node at http://\(followerAddress)"),
                "the node that answered is blamed: \(outcome)")
    }
}

/// A follower serving HTTPS that names a leader at an `http://` URL: discoctl does not follow
/// (the request and its basic-auth credentials would cross the network unencrypted), exits 1 and
/// names both URLs; the plain HTTP server receives nothing.
@Suite struct DiscoctlInsecureRedirectTests {
    @Test(arguments: [["remove", "3"], ["transfer-leadership", "2"]])
    func aRedirectFromHTTPSToHTTPIsRefused(command: [String]) async throws {
        let certificates = try await CertificateFixture.make(name: "discoctl-downgrade")
        let credential = try await certificates.nodes(1)[0]
        let received = Mutex<[String]>([])
        let plain = try await HTTPServer.start { request in
            received.withLock { $0.append("\(request.method) \(request.target) \(request.headers["Authorization"] ?? "-")") }
            return .text("{}")
        }
        defer { Task { await plain.shutdown(gracePeriod: .zero) } }
        let location = "http://127.0.0.1:\(plain.localAddress.port)"
        var configuration = HTTPServerConfiguration()
        configuration.transport = try TLSTransportFactory.server(
            .server(certificateChain: .file(credential.certificate), privateKey: .file(credential.key), label: "follower"))
        let follower = try await HTTPServer.start(configuration: configuration) { request in
            var headers = HTTPHeaders()
            headers.add(name: "Location", value: location + request.target)
            headers.add(name: "Content-Type", value: "application/json")
            return HTTPResponse(status: 307, headers: headers, bytes: Array(#"{"error":"not the leader"}"#.utf8))
        }
        defer { Task { await follower.shutdown(gracePeriod: .zero) } }
        let followerURL = "https://127.0.0.1:\(follower.localAddress.port)"

        let outcome = try await Discoctl.run(command + ["-addr", followerURL, "-ca-cert", certificates.ca.certificate,
                                                        "-user", "admin"], environment: ["DISCO_PASSWORD": "secret"])
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.standardError.contains(followerURL + "/") && outcome.standardError.contains(location + "/"),
                "both URLs must be named: \(outcome)")
        #expect(outcome.standardError.contains("unencrypted") && outcome.standardError.contains("credentials"), "\(outcome)")
        #expect(!outcome.standardError.contains("cannot be reached"), "\(outcome)")
        #expect(received.withLock { $0 }.isEmpty, "the plain HTTP server received \(received.withLock { $0 })")
    }
}

/// What discoctl says when the leader answers 503: the node's own reason when it gives one (an
/// election may leave the outcome unknown: retrying blindly is then wrong), else the hint to
/// wait for a leader.
@Suite struct DiscoctlUnavailableTests {
    static func answering503(_ body: String) async throws -> HTTPServer {
        try await HTTPServer.start { _ in
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            return HTTPResponse(status: 503, headers: headers, bytes: Array(body.utf8))
        }
    }

    @Test(arguments: [["remove", "3"], ["transfer-leadership", "2"]])
    func theNodesOwnReasonIsPrintedWithoutTheRetryHint(command: [String]) async throws {
        let reason = "outcome unknown (leadership changed): entry 7 not applied; check before retrying"
        let node = try await Self.answering503(JSONValue.object(JSONObject([.init(key: "error", value: .string(reason))])).encoded())
        defer { Task { await node.shutdown(gracePeriod: .zero) } }
        let outcome = try await Discoctl.run(command + ["-addr", "127.0.0.1:\(node.localAddress.port)"])
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.standardError.contains(reason), "\(outcome)")
        #expect(!outcome.standardError.contains("retry when discoctl leader answers"), "the node said to check first: \(outcome)")
        #expect(!outcome.standardError.contains("no leader"), "\(outcome)")
    }

    @Test(arguments: [["remove", "3"], ["transfer-leadership", "2"]])
    func without503ReasonTheHintStays(command: [String]) async throws {
        let node = try await Self.answering503("")
        defer { Task { await node.shutdown(gracePeriod: .zero) } }
        let outcome = try await Discoctl.run(command + ["-addr", "127.0.0.1:\(node.localAddress.port)"])
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.standardError.contains("retry when discoctl leader answers"), "\(outcome)")
    }
}
