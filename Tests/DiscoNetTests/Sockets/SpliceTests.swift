import DiscoNet
import DiscoTestKit
import Testing

@Suite("Splicing two TCP connections")
struct SpliceTests {
    @Test func bytesFlowBothWaysAndHalfClosesPropagate() async throws {
        // backend: echoes everything, and after the client's half-close says how much it got.
        let backend = try await TCPListener.bind()
        let backendTask = Task {
            let connection = try await backend.accept()
            var total = 0
            while let bytes = try await connection.read() {
                total += bytes.count
                try await connection.write(bytes)
            }
            try await connection.write(Array("total \(total)".utf8))
            connection.shutdownWrite()
            // Nothing more comes from the client side: the splice already forwarded its FIN.
            #expect(try await connection.read() == nil)
            connection.close()
        }
        // front: accepts one client and splices it to the backend.
        let front = try await TCPListener.bind()
        let frontTask = Task {
            let downstream = try await front.accept()
            let upstream = try await TCPConnection.connect(to: backend.localAddress)
            return await downstream.splice(with: upstream, pendingForOther: Array("pre-".utf8))
        }
        let client = try await TCPConnection.connect(to: front.localAddress)
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try await client.write(payload)
        let echoed = try await read(4 + payload.count, from: client)
        #expect(echoed == Array("pre-".utf8) + payload)
        client.shutdownWrite()
        let tail = try await readToEnd(client)
        #expect(String(decoding: tail, as: UTF8.self) == "total \(payload.count + 4)")
        let result = try await frontTask.value
        #expect(result.failure == nil)
        #expect(result.forwarded == payload.count + 4)
        #expect(result.returned == payload.count + 4 + tail.count)
        try await backendTask.value
        front.close()
        backend.close()
    }

    @Test func aResetOnOneSideEndsBothDirections() async throws {
        let backend = try await TCPListener.bind()
        let backendTask = Task {
            let connection = try await backend.accept()
            _ = try await connection.read()
            connection.close()  // gone without reading the rest
        }
        let front = try await TCPListener.bind()
        let frontTask = Task {
            let downstream = try await front.accept()
            let upstream = try await TCPConnection.connect(to: backend.localAddress)
            return await downstream.splice(with: upstream)
        }
        let client = try await TCPConnection.connect(to: front.localAddress)
        try await client.write([1, 2, 3])
        // The client keeps sending; the splice must end and close the client's side too.
        let filler = [UInt8](repeating: 9, count: 64 * 1024)
        var ended = false
        for _ in 0..<2_000 {
            do {
                try await client.write(filler)
            } catch {
                ended = true
                break
            }
        }
        if !ended { ended = try await readToEnd(client).isEmpty }
        #expect(ended)
        _ = try await frontTask.value
        try await backendTask.value
        front.close()
        backend.close()
    }

    /// With an idle timeout, a splice that moves no bytes either way for that long closes both
    /// connections and says why; the backend, which never spoke, sees its side closed too.
    @Test func anIdleSpliceIsClosedWhenItsIdleTimeoutPasses() async throws {
        let backend = try await TCPListener.bind()
        let backendTask = Task {
            let connection = try await backend.accept()
            let first = try await connection.read()
            let end = try? await connection.read()
            connection.close()
            return (first, end)
        }
        let front = try await TCPListener.bind()
        let frontTask = Task {
            let downstream = try await front.accept()
            let upstream = try await TCPConnection.connect(to: backend.localAddress)
            return await downstream.splice(with: upstream, idleTimeout: .milliseconds(200))
        }
        let client = try await TCPConnection.connect(to: front.localAddress)
        try await client.write([1, 2, 3])
        let rest = try await outcome(of: "the idle splice to close the client's side", within: .seconds(30)) { try await readToEnd(client) }
        #expect(try rest.get().isEmpty)
        let result = try await frontTask.value
        #expect(result.idleTimedOut)
        #expect((result.failure as? NetworkError)?.code == .timedOut, "\(String(describing: result.failure))")
        #expect(result.forwarded == 3)
        let (first, end) = try await backendTask.value
        #expect(first == [1, 2, 3])
        #expect(end == nil)
        client.close()
        front.close()
        backend.close()
    }
}
