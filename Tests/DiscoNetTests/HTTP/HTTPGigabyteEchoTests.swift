import DiscoNet
import DiscoTestKit
import Testing

@Suite("HTTP: a gigabyte through the server and the client in bounded memory")
struct HTTPGigabyteEchoTests {
    /// `disco-bench-http echo` uploads 1 GiB generated on the fly to an in-process echo handler
    /// that streams each piece back while it reads, reads the response as a stream and checks
    /// every byte. It runs in its own process so that its resident memory is its own: the test
    /// runner's other tests allocate concurrently.
    @Test func oneGiBUploadedIsEchoedBackWhileItIsReadWithRSSBounded() async throws {
        let size = 1 << 30
        // Niced: it keeps both cores busy for a few seconds, and the other tests running at the
        // same time have deadlines.
        let process = ChildProcess(name: "disco-bench-http echo", executable: "/usr/bin/nice",
                                   arguments: ["-n", "10", try DiscodProcess.executable("disco-bench-http"), "echo", "\(size)"])
        try process.start()
        let status = try await process.waitForExit(timeout: .seconds(300))
        let line = process.output.split(separator: "\n").first { $0.hasPrefix("echo ") }.map(String.init) ?? ""
        #expect(status == 0, "\(process.output)")
        let fields = Dictionary(line.split(separator: " ").dropFirst().compactMap { field -> (String, Int)? in
            let parts = field.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Int(parts[1]) else { return nil }
            return (String(parts[0]), value)
        }, uniquingKeysWith: { first, _ in first })
        #expect(fields["bytes"] == size, "\(line)")
        #expect(fields["mismatched"] == 0, "\(line)")
        let growth = fields["rss_growth"] ?? .max
        #expect(growth < 64 * 1024 * 1024, "RSS grew by \(growth / 1024 / 1024) MiB: \(line)")
        #expect((fields["rss_before"] ?? 0) > 0, "RSS not measured: \(line)")
    }
}
