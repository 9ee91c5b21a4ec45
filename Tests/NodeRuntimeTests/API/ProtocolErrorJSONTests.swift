import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Testing

/// The node API's own refusals of a request it cannot read (a body over the server's limit, a
/// header section too large, a malformed request line) are JSON errors like every other answer
/// of the API, as the README promises: they were `text/plain`, so `POST /events` answered a
/// 2 MiB body with `{"error":…}` and a 9 MiB one with a line of text.
@Suite struct ProtocolErrorJSONTests {
    /// Sends `head` as it is on a new connection and reads until the server closes it.
    static func exchange(_ head: String, port: UInt16) async throws -> String {
        let address = try #require(SocketAddress(numericHost: "127.0.0.1", port: port))
        let connection = try await TCPConnection.connect(to: address)
        defer { connection.close() }
        try await connection.write(Array(head.utf8))
        var received: [UInt8] = []
        while let piece = try await connection.read() { received += piece }
        return String(decoding: received, as: UTF8.self)
    }

    @Test func theServersOwnRefusalsAreJSONErrors() async throws {
        let setup = try TestNodeSetup(id: "pe1", prefix: "disco-protocol-errors")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        try await waitUntil("pe1 to lead", timeout: .seconds(120)) { running.node.consensus.status.isLeader }
        let cases: [(head: String, status: String, words: String)] = [
            ("POST /events HTTP/1.1\r\nHost: node\r\nContent-Length: 9000000\r\n\r\n", "413", "exceeds the limit"),
            ("GET /status HTTP/1.1\r\nHost: node\r\nX-Padding: \(String(repeating: "a", count: 20_000))\r\n\r\n", "431", "header section"),
            ("GET status HTTP/1.1\r\nHost: node\r\n\r\n", "400", "invalid request target"),
        ]
        for item in cases {
            let answer = try await Self.exchange(item.head, port: setup.httpPort)
            let parts = answer.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false)
            let head = parts.first.map(String.init) ?? ""
            let body = parts.count > 1 ? String(parts[1]) : ""
            #expect(head.hasPrefix("HTTP/1.1 \(item.status) "), "\(item.status): \(answer.prefix(300))")
            #expect(head.lowercased().contains("content-type: application/json"), "\(item.status): \(head)")
            let error = (try? JSONValue.parse(Array(body.utf8)))?["error"]?.stringValue ?? ""
            #expect(error.contains(item.words), "\(item.status): \(body.prefix(300))")
        }
        #expect(await running.stop() == nil)
    }
}
