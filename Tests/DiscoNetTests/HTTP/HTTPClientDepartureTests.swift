import DiscoNet
import DiscoTestKit
import Glibc
import Synchronization
import Testing

/// A client that leaves while its request is being answered: the server cancels the request's
/// handler at once (a long poll ends, a proxy lets go of its upstream), instead of letting it
/// run to its end for nobody. Pipelining clients that half-close still get every answer.
@Suite("HTTP server: a client that leaves while its request is being answered")
struct HTTPClientDepartureTests {
    enum Leaving: String, CaseIterable, Sendable {
        /// close(): a FIN.
        case close
        /// SO_LINGER 0 then close(): a reset.
        case reset
        /// shutdown(SHUT_WR) after its one request: as nginx, this is leaving too.
        case halfClose
    }

    /// The handler waits 30 s unless cancelled; the client leaves once it runs. The server must
    /// end it long before (the deadline is a third of the wait). Before, the server noticed a
    /// FIN only after the handler had answered, and a reset closed the connection but left the
    /// handler running: either way the handler ran its 30 s.
    @Test(arguments: Leaving.allCases)
    func theHandlerIsCancelledWhenItsClientLeaves(leaving: Leaving) async throws {
        let probe = HandlerProbe()
        try await withServer(responder: probe.responder) { server in
            do {
                let client = try connect(server)
                try client.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
                try await waitUntil("the handler to run") { probe.started == 1 }
                switch leaving {
                case .close:
                    break
                case .reset:
                    var reset = linger(l_onoff: 1, l_linger: 0)
                    setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
                case .halfClose:
                    client.shutdownWrite()
                    // Nothing is sent to a client taken to have left: the connection just closes.
                    #expect(try await client.readUntilClose().isEmpty)
                }
                // Released at the end of this scope: closed.
            }
            try await waitUntil("the handler to be cancelled", timeout: .seconds(60)) { probe.cancelled == 1 }
        }
    }

    /// A line break after a request's body (some clients end a POST with one) is not a pipelined
    /// request: its client still leaves when it closes. Before, any byte read ahead counted as
    /// pipelining, for the rest of the connection, so the handler ran on for nobody.
    @Test func aLineBreakAfterTheBodyIsNotPipelining() async throws {
        let probe = HandlerProbe()
        try await withServer(responder: probe.responder) { server in
            do {
                let client = try connect(server)
                try client.send("POST /wait HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}\r\n")
                try await waitUntil("the handler to run") { probe.started == 1 }
                // Released at the end of this scope: closed.
            }
            try await waitUntil("the handler to be cancelled", timeout: .seconds(60)) { probe.cancelled == 1 }
        }
    }

    /// A client that pipelines its requests and then half-closes waits for its answers: it gets
    /// each of them, in order, from a handler that takes its time.
    @Test func aPipeliningClientThatHalfClosesGetsEveryAnswer() async throws {
        let probe = HandlerProbe(wait: .milliseconds(200))
        try await withServer(responder: probe.responder) { server in
            let client = try connect(server)
            try client.send((1...3).map { "GET /\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
            client.shutdownWrite()
            for index in 1...3 {
                let response = try await client.readResponse()
                #expect(response.bodyText == "waited /\(index)", "\(response)")
            }
            #expect(try await client.isClosedByPeer())
            #expect(probe.cancelled == 0)
        }
    }

    /// With ``HTTPServerConfiguration/abandonsRequestsOfClosedClients`` off, a client that
    /// half-closes after its request is answered.
    @Test func aHalfClosedClientIsAnsweredWhenTheServerDoesNotAbandon() async throws {
        let probe = HandlerProbe(wait: .milliseconds(200))
        var configuration = HTTPServerConfiguration()
        configuration.abandonsRequestsOfClosedClients = false
        try await withServer(configuration, responder: probe.responder) { server in
            let client = try connect(server)
            try client.send("GET /one HTTP/1.1\r\nHost: t\r\n\r\n")
            client.shutdownWrite()
            #expect(try await client.readResponse().bodyText == "waited /one")
            #expect(probe.cancelled == 0)
        }
    }
}

/// A responder that waits `wait` (cancellable) and answers `waited <target>`, counting the
/// requests it started and the waits that were cancelled.
final class HandlerProbe: Sendable {
    private let counts = Mutex((started: 0, cancelled: 0))
    let wait: Duration

    init(wait: Duration = .seconds(30)) {
        self.wait = wait
    }

    var started: Int { counts.withLock { $0.started } }
    var cancelled: Int { counts.withLock { $0.cancelled } }

    var responder: HTTPResponder {
        HTTPResponder { request in
            self.counts.withLock { $0.started += 1 }
            do {
                try await Task.sleep(for: self.wait)
            } catch {
                self.counts.withLock { $0.cancelled += 1 }
                return .text("cancelled\n", status: 503)
            }
            return .text("waited \(request.target)")
        }
    }
}
