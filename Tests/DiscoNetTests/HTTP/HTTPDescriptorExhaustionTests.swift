import DiscoNet
import DiscoTestKit
import Testing

@Suite("HTTP server: running out of file descriptors")
struct HTTPDescriptorExhaustionTests {
    /// The bench server runs under `prlimit --nofile=64`: connections beyond what its descriptor
    /// table holds are answered 503 and closed at once (none waits in the backlog), the ones
    /// already open keep working, the condition is logged at most once a second, and once
    /// descriptors are free new connections are served again.
    @Test func outOfDescriptorsAnswers503AndKeepsServing() async throws {
        let bench = try DiscodProcess.executable("disco-bench-http")
        let server = ChildProcess(name: "disco-bench-http (64 descriptors)", executable: "/usr/bin/prlimit",
                                  arguments: ["--nofile=64:64", "--", bench, "0", "1"])
        try server.start()  // killed when `server` goes away, whatever happens below
        let line = try await server.waitForOutput(containing: "listening")
        let port = try #require(line.split(separator: " ").last.flatMap { UInt16($0) })
        let address = try #require(SocketAddress(numericHost: "127.0.0.1", port: port))

        let started = ContinuousClock.now
        var kept: [RawSocketClient] = []
        var refused = 0
        for _ in 0..<100 {
            let client = try RawSocketClient(connectTo: address)
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await client.readResponse()
            if response.status == 200 {
                kept.append(client)
            } else {
                #expect(response.status == 503, "\(response)")
                #expect(response.bodyText.contains("out of file descriptors"))
                #expect(try await client.isClosedByPeer())
                refused += 1
            }
        }
        let elapsed = ContinuousClock.now - started
        #expect(refused > 0, "the limit was never reached")
        #expect(kept.count > 20, "only \(kept.count) connections were served")

        for client in kept {
            try client.send("GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 200, "\(response)")
        }

        let warnings = server.output.split(separator: "\n").filter { $0.contains("out of file descriptors") }
        #expect(!warnings.isEmpty, "no warning logged:\n\(server.output)")
        #expect(warnings.count <= Int(elapsed.components.seconds) + 2, "\(warnings.count) warnings in \(elapsed)")

        kept.removeAll()  // closes them: the server gets its descriptors back
        try await waitUntil("new connections are served again") {
            guard let client = try? RawSocketClient(connectTo: address) else { return false }
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            return try await client.readResponse().status == 200
        }
        #expect(server.isRunning)
        await server.stop()
    }
}
