import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - k8s/sidecar under the pod harness

/// k8s/sidecar rendered and run by ``KubeHarness``: the stand-in application is
/// `disco-bench-http app` (it answers who it is and what it saw), the Secrets the README tells
/// users to create are made here (a certificate from ``CertificateFixture``, one API key).
enum SidecarPods {
    static let statefulSetName = "app"
    /// The placeholder image k8s/sidecar's kustomization names for your service.
    static let appImage = "registry.example.com/your-app"
    static let appID = "orders"
    static let appKey = "k8s-sidecar-test-key"

    /// The Secrets of k8s/sidecar and k8s/bigchaindb-gateway, as `kubectl create secret` makes
    /// them; made once per test process (key generation is the costly part) and shared.
    static func objects() async throws -> ObjectData { try await shared.value }

    private static let shared = Task<ObjectData, any Error> {
        let certificates = try await CertificateFixture.make(name: "k8s-secrets")
        defer { certificates.remove() }
        return try await objects(certificates)
    }

    private static func objects(_ certificates: CertificateFixture) async throws -> ObjectData {
        let leaf = try await certificates.issue("app.default.svc", ips: ["127.0.0.1"], dnsNames: ["app.default.svc", "localhost"])
        let tls: [String: [UInt8]] = ["tls.crt": Array(try Data(contentsOf: URL(fileURLWithPath: leaf.certificate))),
                                      "tls.key": Array(try Data(contentsOf: URL(fileURLWithPath: leaf.key))),
                                      "ca.crt": Array(try Data(contentsOf: URL(fileURLWithPath: certificates.ca.certificate)))]
        let digest = try await Command.check("python3", ["-c", "import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())", appKey])
        let keys: [String: [UInt8]] = ["keys.json": Array(#"[{"app_id": "\#(appID)", "app_key_sha256": "\#(digest.trimmingCharacters(in: .whitespacesAndNewlines))"}]"#.utf8)]
        return ObjectData(secrets: ["app-tls": tls, "app-api-keys": keys, "bdb-tls": tls, "bdb-api-keys": keys])
    }

    /// The Disco image, and the stand-in application listening where the sidecar's `-upstream` says.
    static func images(_ manifests: KubeManifests) throws -> [HarnessImage] {
        let products = try ExecutableRunner.productsDirectory().path
        let sidecar = try #require(try manifests.statefulSet(statefulSetName).template.sidecars.first)
        let upstream = try #require(sidecar.args?.first { $0.hasPrefix("-upstream=http://") }?.dropFirst("-upstream=http://".count))
        return [.disco(productsDirectory: products),
                HarnessImage(name: appImage, entrypoint: ["disco-bench-http", "app", String(upstream)], programDirectories: [products])]
    }

    /// How the manifests are run: as written (the proxy speaks HTTPS), or with TLS taken out of
    /// the sidecar (no `-proxy-cert`/`-proxy-key`, the readiness probe over HTTP).
    enum Variant: String, Sendable, CaseIterable, CustomStringConvertible {
        case asWritten
        case withoutTLS
        var scheme: String { self == .asWritten ? "https" : "http" }
        var description: String { rawValue }
    }

    /// k8s/sidecar rendered, changed as `variant` says.
    static func manifests(_ variant: Variant) async throws -> KubeManifests {
        var manifests = try await KubeManifests.render("k8s/sidecar")
        guard variant == .withoutTLS else { return manifests }
        let args = try #require(try manifests.statefulSet(statefulSetName).template.sidecars.first?.args)
        let tlsFlags = args.indices.filter { args[$0].hasPrefix("-proxy-cert=") || args[$0].hasPrefix("-proxy-key=") }
        #expect(tlsFlags.count == 2)
        for index in tlsFlags.sorted(by: >) {
            manifests = try manifests.setting("spec.template.spec.initContainers.0.args.\(index)", to: nil, in: "StatefulSet", named: statefulSetName)
        }
        return try manifests.setting("spec.template.spec.initContainers.0.readinessProbe.httpGet.scheme", to: "HTTP",
                                     in: "StatefulSet", named: statefulSetName)
    }

    /// Runs `body` with k8s/sidecar's StatefulSet (not yet applied) in a fresh harness.
    static func with(_ variant: Variant, _ body: (KubeHarness, StatefulSetSpec) async throws -> Void) async throws {
        try await DiscoPods.requireHarness()
        let manifests = try await manifests(variant)
        try await KubeHarness.with(manifests, images: try images(manifests), objects: try await objects()) { harness in
            let statefulSet = try manifests.statefulSet(statefulSetName)
            do {
                try await body(harness, statefulSet)
            } catch {
                Issue.record("\(error)\n\(harness.describe())")
                throw error
            }
        }
    }

    // MARK: Clients of the Service

    /// A client of the `app` Service: HTTPS without verifying the certificate (the test reaches
    /// pods by IP; the certificate names the Service).
    static let client: HTTPClient = {
        // Connects within 5 s: a lost SYN is sent again after 1 s, a second loss after 3 s.
        var configuration = HTTPClientConfiguration(connectTimeout: .seconds(5), requestTimeout: .seconds(10))
        if let insecure = try? TLSTransportFactory.client(TLSConfiguration(verifyPeer: false, label: "test client")) {
            configuration.httpsTransport = insecure
        }
        return HTTPClient(configuration: configuration)
    }()

    struct Answer: Sendable, CustomStringConvertible {
        let status: Int
        let body: String
        /// The stand-in application's JSON line, when it answered.
        var app: String? { (try? JSONValue.parse(body))?["app"]?.stringValue }
        var json: JSONValue? { try? JSONValue.parse(body) }
        var description: String { "\(status) \(body.trimmingCharacters(in: .whitespacesAndNewlines))" }
    }

    /// One request to a Service endpoint (`ip:port`), with the API key when `key` is set.
    /// The hot replica every pod names in `GET /hot` (nil while they disagree or none is hot).
    static func hotReplica(_ harness: KubeHarness) async -> String? {
        var named = Set<String>()
        for pod in harness.pods {
            guard let hot = await DiscoPods.get(pod, "/hot")?["hot"]?.stringValue else { return nil }
            named.insert(hot)
        }
        return named.count == 1 ? named.first : nil
    }

    static func send(_ method: String, _ path: String, to endpoint: String, scheme: String, key: Bool = false) async -> Answer {
        var headers = HTTPHeaders()
        if key {
            headers.add(name: "app_id", value: appID)
            headers.add(name: "app_key", value: appKey)
        }
        let body = method == "GET" ? [] : Array(#"{"order":1}"#.utf8)
        let request = HTTPClientRequest(method: method, url: "\(scheme)://\(endpoint)\(path)", headers: headers, body: body)
        do {
            let answer = try await client.send(request, timeout: .seconds(10))
            return Answer(status: answer.status, body: answer.bodyText)
        } catch {
            return Answer(status: 0, body: "\(error)")
        }
    }

    /// ``send(_:_:to:scheme:key:)`` sent again while it gets no answer at all (a connection
    /// refused or timed out on a loaded machine), for at most 60 s: for a request the test needs
    /// answered once, and whose repetition changes nothing. Any HTTP answer is returned as is.
    static func answer(_ method: String, _ path: String, to endpoint: String, scheme: String) async throws -> Answer {
        try await firstAnswer("an answer to \(method) \(path) through \(endpoint)") { () async throws -> Answer? in
            let answer = await send(method, path, to: endpoint, scheme: scheme)
            guard answer.status != 0 else { throw ManifestError("no answer: \(answer.body)") }
            return answer
        }
    }
}
