import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

/// ``HTTPClientConfiguration/addressFilter``: addresses the client never connects to, asked
/// only when a new connection is opened.
@Suite("HTTP client: excluded addresses")
struct HTTPClientAddressFilterTests {
    /// Excludes the addresses in `excluded` and counts how often it is asked.
    private final class Filter: ConnectAddressFilter {
        let excluded: [SocketAddress]
        let asked = Atomic<Int>(0)

        init(excluding excluded: [SocketAddress]) {
            self.excluded = excluded
        }

        func excludes(_ address: SocketAddress) -> Bool {
            asked.add(1, ordering: .relaxed)
            return excluded.contains(address)
        }

        func reason(excluding excluded: [SocketAddress]) -> String { "which the test excludes" }
    }

    @Test func aHostThatResolvesOnlyToExcludedAddressesFailsWithoutConnecting() async throws {
        try await withServer { server in
            let filter = Filter(excluding: [server.localAddress])
            let client = HTTPClient(configuration: HTTPClientConfiguration(addressFilter: filter))
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.send(HTTPClientRequest(url: "http://\(server.localAddress)/x"))
            }
            #expect(error?.code == .excludedAddress)
            #expect(error?.detail == "127.0.0.1 resolves to \(server.localAddress), which the test excludes", "\(String(describing: error))")
            #expect(server.acceptedConnections == 0)
            await client.shutdown()
        }
    }

    /// The filter is asked when a connection is opened; the requests that reuse it are not.
    @Test func aPooledConnectionIsNotFilteredAgain() async throws {
        try await withServer { server in
            let filter = Filter(excluding: [])
            let client = HTTPClient(configuration: HTTPClientConfiguration(addressFilter: filter))
            for index in 0..<3 {
                let response = try await client.send(HTTPClientRequest(url: "http://\(server.localAddress)/n\(index)"))
                #expect(response.status == 200)
            }
            #expect(server.acceptedConnections == 1)
            #expect(filter.asked.load(ordering: .relaxed) == 1)
            await client.shutdown()
        }
    }
}
