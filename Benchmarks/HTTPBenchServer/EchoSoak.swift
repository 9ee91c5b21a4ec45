import DiscoNet

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - Streaming soak: BYTES up and back down through one process

/// Uploads BYTES (generated on the fly) to an echo handler that streams each piece back as it
/// reads it, and reads the response as a stream, checking every byte. Prints
/// `echo bytes=N pieces=P mismatched=M seconds=S rss_before=B rss_peak=K rss_growth=G` (sizes in
/// bytes) and exits 0 when every byte came back right.
enum EchoSoak {
    /// Byte `i` of the stream is `pattern[i % pattern.count]`; the length is prime, so piece
    /// boundaries never line up with it by accident.
    static let pattern: [UInt8] = {
        var state: UInt32 = 0x9E37_79B9
        return (0..<65_521).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }()

    static func run(_ arguments: [String]) async -> Int32 {
        guard let text = arguments.first, let size = Int(text), size > 0 else {
            fputs("usage: disco-bench-http echo BYTES\n", stderr)
            return 2
        }
        do {
            return try await soak(size: size)
        } catch {
            print("echo failed: \(error)")
            return 1
        }
    }

    private static func soak(size: Int) async throws -> Int32 {
        let group = try EventLoopGroup(threads: 2, name: "soak")
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxBodyBytes = size
        let server = try await HTTPServer.start(configuration: configuration, group: group, responder: HTTPResponder { request in
            HTTPResponse(headers: ["Content-Type": "application/octet-stream"], body: .stream { writer in
                for try await piece in request.body { try await writer.write(piece) }
            })
        })
        var clientConfiguration = HTTPClientConfiguration()
        clientConfiguration.limits.maxBodyBytes = size
        let client = HTTPClient(configuration: clientConfiguration, group: group)
        let pattern = Self.pattern
        let twice = pattern + pattern
        let before = residentBytes()
        let started = ContinuousClock.now
        let upload = HTTPClientRequest(url: "http://\(server.localAddress)/echo", bodyStream: .writer(length: size) { writer in
            var sent = 0
            while sent < size {
                let count = min(pattern.count, size - sent)
                try await writer.write(count == pattern.count ? pattern : Array(pattern[..<count]))
                sent += count
            }
        })
        let response = try await client.execute(upload, timeout: .seconds(60))
        var received = 0
        var mismatched = 0
        var pieces = 0
        var peak = before
        for try await piece in response.body {
            var offset = 0
            while offset < piece.count {
                let start = (received + offset) % pattern.count
                let length = min(piece.count - offset, pattern.count)
                let differs = piece.withUnsafeBytes { got in
                    twice.withUnsafeBytes { want in
                        guard let got = got.baseAddress, let want = want.baseAddress else { return true }
                        return memcmp(got + offset, want + start, length) != 0
                    }
                }
                if differs { mismatched += 1 }
                offset += length
            }
            received += piece.count
            pieces += 1
            if pieces % 256 == 0 { peak = max(peak, residentBytes()) }
        }
        peak = max(peak, residentBytes())
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        await client.shutdown()
        await server.shutdown(gracePeriod: .seconds(1))
        let intact = received == size && mismatched == 0
        print("echo bytes=\(received) pieces=\(pieces) mismatched=\(mismatched) seconds=\(seconds) "
              + "rss_before=\(before) rss_peak=\(peak) rss_growth=\(peak - before)")
        fflush(stdout)
        return intact ? 0 : 1
    }

    /// Resident set size in bytes, from `/proc/self/statm` (second field, in pages).
    static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return 0 }
        let fields = String(decoding: buffer[..<count], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * sysconf(Int32(_SC_PAGESIZE))
    }
}
