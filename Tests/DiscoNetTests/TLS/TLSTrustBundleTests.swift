@testable import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// A CA bundle that holds a CA more than once (bundles concatenated, the same CA in two of them)
/// trusts it once: log lines name and count each CA once.
@Suite("TLS trust: a CA given twice")
struct TLSTrustBundleTests {
    @Test func aCAGivenTwiceIsNamedAndCountedOnce() async throws {
        let certificates = try await TLSTestCertificates.get()
        let fixture = certificates.fixture
        let bundle = try fixture.bundle(of: [fixture.ca, fixture.ca, fixture.otherCA, fixture.ca, fixture.otherCA],
                                        file: "repeated-\(UUID().uuidString.prefix(6)).pem")
        let context = try TLSContext(client: .client(trustRoots: .pem(.file(bundle)), label: "test client"))
        #expect(context.trustedAuthorities == ["CN=Disco Test CA", "CN=Other Test CA"])
        #expect(context.trustDescription == "\"CN=Disco Test CA\", \"CN=Other Test CA\"", "\(context.trustDescription)")
        // A server asks clients for a certificate from each CA once, and verifies them as before.
        var server = certificates.serverTLS(verifyClients: true)
        server.trustRoots = .pem(.file(bundle))
        let serverContext = try TLSContext(server: server)
        #expect(serverContext.trustedAuthorities == ["CN=Disco Test CA", "CN=Other Test CA"])
    }
}
