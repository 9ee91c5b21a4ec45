import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Foundation
import Synchronization
import Testing

// MARK: - Certificates shared by the TLS tests

/// The certificates the TLS tests use, made once per test run with `openssl`.
struct TLSTestCertificates: Sendable {
    let fixture: CertificateFixture
    /// node1: 127.0.0.1 and localhost, signed by the test CA.
    let server: CertificateFixture.Credential
    /// A second node certificate from the test CA (a client in mutual TLS).
    let client: CertificateFixture.Credential
    let expired: CertificateFixture.Credential
    let notYetValid: CertificateFixture.Credential
    /// Valid, from the test CA, but for wrong.example and 10.9.9.9 only.
    let wrongHost: CertificateFixture.Credential
    /// For 127.0.0.1, signed by the other CA.
    let otherCA: CertificateFixture.Credential

    var caFile: String { fixture.ca.certificate }

    private static let shared = Mutex<Task<TLSTestCertificates, any Error>?>(nil)

    /// The shared set, made on first use.
    static func get() async throws -> TLSTestCertificates {
        let task = shared.withLock { task in
            if let task { return task }
            let made = Task { try await make() }
            task = made
            return made
        }
        return try await task.value
    }

    private static func make() async throws -> TLSTestCertificates {
        let fixture = try await CertificateFixture.make(name: "disconet-tls")
        return TLSTestCertificates(
            fixture: fixture,
            server: try await fixture.issue("node1"),
            client: try await fixture.issue("node2"),
            expired: try await fixture.issue("expired-node", validity: .expired),
            notYetValid: try await fixture.issue("future-node", validity: .notYetValid),
            wrongHost: try await fixture.issue("wrong-host", ips: ["10.9.9.9"], dnsNames: ["wrong.example"]),
            otherCA: try await fixture.issue("stranger", by: .other))
    }

    /// A server configuration presenting `credential`.
    func serverTLS(_ credential: CertificateFixture.Credential? = nil, verifyClients: Bool = false,
                   logger: Logger? = nil) -> TLSConfiguration {
        let credential = credential ?? server
        var configuration = TLSConfiguration.server(certificateChain: .file(credential.certificate), privateKey: .file(credential.key),
                                                    label: "test HTTPS")
        configuration.trustRoots = .pem(.file(caFile))
        configuration.verifyPeer = verifyClients
        configuration.logger = logger
        return configuration
    }

    /// A client configuration trusting the test CA, optionally presenting `credential`.
    func clientTLS(_ credential: CertificateFixture.Credential? = nil, verify: Bool = true) -> TLSConfiguration {
        var configuration = TLSConfiguration.client(trustRoots: .pem(.file(caFile)), label: "test client")
        configuration.verifyPeer = verify
        if let credential {
            configuration.certificateChain = .file(credential.certificate)
            configuration.privateKey = .file(credential.key)
        }
        return configuration
    }
}

// MARK: - Servers and clients over TLS

/// A logger whose lines can be read back.
func capturingLogger(_ label: String = "tls") -> (Logger, MemoryLogSink) {
    let sink = MemoryLogSink()
    return (Logger(label: label, level: .debug, handler: LogfmtHandler(sink: sink)), sink)
}

/// An HTTPS server answering `METHOD target` (and the body) with `tls`, for `body`.
func withTLSServer<T>(
    _ tls: TLSConfiguration, handler: @escaping HTTPHandler = echoHandler,
    _ body: (HTTPServer, TLSContextStore) async throws -> T
) async throws -> T {
    let store = try TLSContextStore(server: tls)
    var configuration = HTTPServerConfiguration()
    configuration.transport = TLSTransportFactory(store)
    return try await withServer(configuration, handler: handler) { server in try await body(server, store) }
}

/// An HTTP client whose `https://` connections use `tls`.
func tlsClient(_ tls: TLSConfiguration) throws -> (HTTPClient, TLSContextStore) {
    let store = try TLSContextStore(client: tls)
    let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(5), requestTimeout: .seconds(20),
                                                                   httpsTransport: TLSTransportFactory(store)))
    return (client, store)
}

func httpsURL(_ server: HTTPServer, _ path: String = "/", host: String = "127.0.0.1") -> String {
    "https://\(host):\(server.localAddress.port)\(path)"
}

/// Runs `openssl` with `arguments` and returns its exit status and output.
func openssl(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
    try await ChildProcess.run(CertificateFixture.openssl, arguments, timeout: timeout)
}

/// Runs `openssl s_client` (in `arguments`) sending one `Connection: close` request and waiting
/// for the server to close, so a TLS 1.3 session ticket (sent after the handshake) has arrived
/// before it exits (with `-sess_out`, the saved session is then resumable).
func opensslWithRequest(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let command = "printf 'GET /s HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n' | "
        + CertificateFixture.openssl + " " + (arguments + ["-ign_eof"]).map { "'\($0)'" }.joined(separator: " ")
    return try await ChildProcess.run("/bin/sh", ["-c", command], timeout: .seconds(30))
}

/// Runs `curl` with `arguments` and returns its exit status and output.
func curl(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
    try await ChildProcess.run("/usr/bin/curl", ["-sS", "--max-time", "20"] + arguments, timeout: timeout)
}

/// Whether any captured line contains every one of `fragments`.
func logContains(_ sink: MemoryLogSink, _ fragments: String...) -> Bool {
    sink.lines.contains { line in fragments.allSatisfy { line.contains($0) } }
}
