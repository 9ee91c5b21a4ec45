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
}
