import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - discod out of file descriptors

/// Runs `discod` with a low descriptor limit it cannot raise (`ulimit -n` sets the hard limit
/// too) and fills its sockets from the HTTP API.
@Suite("discod: out of descriptors")
struct DiscodDescriptorProcessTests {
    /// The node's descriptor limit: a few dozen above what it opens at rest.
    static let descriptorLimit = 128

    /// Sends a request on `connection` and reads until the status line: its status code.
    static func status(of connection: TCPConnection) async throws -> Int? {
        try await connection.write(Array("GET /no-such-path HTTP/1.1\r\nHost: node\r\n\r\n".utf8))
        var received: [UInt8] = []
        while !received.contains(0x0A), let piece = try await connection.read() { received += piece }
        let line = String(decoding: received, as: UTF8.self)
        guard line.hasPrefix("HTTP/1.1 ") else { return nil }
        return Int(line.dropFirst(9).prefix(3))
    }

    /// Sockets reaching the descriptors kept free make the Raft listener's accept fail (EMFILE)
    /// while HTTP clients hold every other descriptor. The listener pauses and accepts again once
    /// they leave: before, it stopped for good ("Raft listener ... stopped"), and the node never
    /// took another connection from its peers until restarted.
    @Test func raftListenerAcceptsAgainAfterRunningOutOfDescriptors() async throws {
        let cluster = try DiscodCluster(name: "raft-nofile")
        defer { Task { await cluster.shutdown() } }
        let ports = try DiscodCluster.ports()
        let arguments = ["-node-id", "1", "-http-addr=127.0.0.1:\(ports.http)", "-raft-addr=127.0.0.1:\(ports.raft)",
                         cluster.dataDirectory(for: "1")]
        let process = ChildProcess(name: "discod[raft-nofile]", executable: "/bin/sh",
                                   arguments: ["-c", "ulimit -n \(Self.descriptorLimit) && exec \"$0\" \"$@\"",
                                               try DiscodProcess.executable("discod")] + arguments)
        try process.start()
        defer { Task { _ = await process.stop() } }
        _ = try await process.waitForOutput(containing: "leader is 1 (this node)")

        // HTTP connections until the server answers one 503 for want of descriptors: the sockets
        // then hold every descriptor below the ones kept free.
        var held: [TCPConnection] = []
        defer { for connection in held { connection.close() } }
        var refused = false
        for _ in 0..<(2 * Self.descriptorLimit) {
            let connection = try await TCPConnection.connect(host: "127.0.0.1", port: ports.http)
            let status = try await Self.status(of: connection)
            if status == 503 {
                connection.close()
                refused = true
                break
            }
            #expect(status == 404)
            held.append(connection)
        }
        try #require(refused, "the node answered \(held.count) connections without running out of descriptors")

        // A peer's connection now: its accept fails.
        let early = try await TCPConnection.connect(host: "127.0.0.1", port: ports.raft)
        defer { early.close() }
        let failure = try await process.waitForOutput(containing: "Raft listener on ")
        try #require(!failure.contains("stopped"), "\(process.output.suffix(3000))")

        // The clients leave; a peer's connection is read again (a frame of an unknown version is
        // refused with a logged reason).
        for connection in held { connection.close() }
        held.removeAll()
        try await waitUntil("a new connection to the Raft port is read", timeout: .seconds(60), pollEvery: .milliseconds(200)) {
            guard let peer = try? await TCPConnection.connect(host: "127.0.0.1", port: ports.raft) else { return false }
            defer { peer.close() }
            _ = try? await peer.write([0, 0, 0, 2, 0xFF, 1])
            peer.shutdownWrite()
            while (try? await peer.read()) != nil {}
            return process.output.contains("closing internode connection from 127.0.0.1")
        }
    }
}
