import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
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
