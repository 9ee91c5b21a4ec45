import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

/// A client that pipelines requests but does not read the answers: the server answers only as
/// far as the client reads, whatever responder it has.
@Suite("HTTP server: pipelined requests and a client that does not read")
struct HTTPServerPipelineBackPressureTests {
    static let body = [UInt8](repeating: UInt8(ascii: "x"), count: 2 * 1024 * 1024)
    static let requests = 64

    @Test("requests already buffered are not all answered ahead of a client that reads nothing")
    func bufferedRequestsWaitForTheClientToRead() async throws {
        let group = try EventLoopGroup(threads: 1, name: "disco-test-pipeline")
        defer { group.shutdown() }
        let answered = Atomic<Int>(0)
        // Answered inline, in the parse that read the requests: one loop turn answers all the
        // buffered requests it is going to answer.
        let responder = HTTPResponder.immediate(upTo: 1024) { _ in
            answered.add(1, ordering: .relaxed)
            return HTTPResponse(status: 200, body: .bytes(Self.body))
        }
        try await withServer(group: group, responder: responder) { server in
            let client = try connect(server)
            try client.send(String(repeating: "GET / HTTP/1.1\r\nHost: t\r\n\r\n", count: Self.requests))
            try await waitUntil("the first answer") { answered.load(ordering: .relaxed) >= 1 }
            // A round trip through the server's only loop: the turn that parsed the requests is over.
            try await group.loops[0].submit {}
            let ahead = answered.load(ordering: .relaxed)
            #expect(ahead < 16, "\(ahead) responses of 2 MiB queued for a client that has read none")
            for index in 0..<Self.requests {
                let response = try await client.readResponse()
                #expect(response.status == 200 && response.body.count == Self.body.count, "response \(index)")
            }
            #expect(answered.load(ordering: .relaxed) == Self.requests)
        }
    }

    @Test("requests held back for a slow reader that then half-closes are all answered before the close")
    func heldBackRequestsBeforeAHalfCloseAreAllAnswered() async throws {
        try await withServer(handler: { _ in HTTPResponse(status: 200, body: .bytes(Self.body)) }) { server in
            let client = try connect(server)
            try client.send(String(repeating: "GET / HTTP/1.1\r\nHost: t\r\n\r\n", count: Self.requests))
            client.shutdownWrite()
            for index in 0..<Self.requests {
                let response = try await client.readResponse()
                #expect(response.status == 200 && response.body.count == Self.body.count, "response \(index)")
            }
            #expect(try await client.isClosedByPeer())
        }
    }
}
