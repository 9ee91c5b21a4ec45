import DiscoCore
import DiscoSystem
import DiscoNet
import DiscoTestKit
import Testing
@testable import Bootstrap

/// `POST /join` against fake servers on loopback: redirects, retries, refusals.
@Suite struct BootstrapJoinTests {
    let me = BootstrapPeer(id: "late", raftAddress: "127.0.0.1:29001", apiAddress: "127.0.0.1:29000")
    let leader = ClusterLeader(id: "leader", apiAddress: "127.0.0.1:28000", raftAddress: "127.0.0.1:28001")

    var request: JoinRequest { JoinRequest(node: me, cluster: "disco") }

    func accepted() -> HTTPResponse {
        HTTPResponse(status: 200, bytes: BootstrapWire.encode(JoinAccepted(leader: leader, cluster: "disco", epoch: 4)))
    }

    func address(_ server: HTTPServer) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: server.localAddress.port) }

    /// Servers 0..<count; each but the last redirects to the next, the last accepts.
    func redirectChain(_ count: Int) async throws -> [HTTPServer] {
        let ports = Locked<[UInt16]>([])
        var servers: [HTTPServer] = []
        for index in 0..<count {
            let isLast = index == count - 1
            let reply = accepted()
            servers.append(try await HTTPServer.start { _ in
                guard !isLast else { return reply }
                let next = ports.withLock { $0.indices.contains(index + 1) ? $0[index + 1] : 0 }
                let status = [301, 302, 307, 308][index % 4]
                return HTTPResponse(status: status, headers: ["Location": "http://127.0.0.1:\(next)/join"],
                                    bytes: BootstrapWire.errorBody("not the leader"))
            })
        }
        ports.withLock { $0 = servers.map(\.localAddress.port) }
        return servers
    }

    func shutdown(_ servers: [HTTPServer]) async {
        for server in servers { await server.shutdown(gracePeriod: .seconds(1)) }
    }

    /// A joiner with generous timeouts: on a loaded machine a late answer must still be the
    /// answer the joiner acts on, so every call the server counts is one the joiner decided on.
    static func patientJoiner(attempts: Int, sink: MemoryLogSink) -> Joiner {
        let client = BootstrapClient(http: HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(30))))
        return Joiner(client: client, attempts: attempts, interval: .milliseconds(10), timeout: .seconds(60),
                      logger: Logger(label: "join", handler: LogfmtHandler(sink: sink)))
    }

    @Test func tenRedirectsAreFollowedAndElevenAreAClearError() async throws {
        let servers = try await redirectChain(12)
        let client = BootstrapClient()
        // From server 1: ten redirects (1→2→…→11), then the leader accepts. A request may take
        // seconds on a loaded machine: the count of redirects is what is tested, not the time.
        let joined = await client.join(target: address(servers[1]), request: request, timeout: .seconds(30))
        #expect(try joined.get() == JoinAccepted(leader: leader, cluster: "disco", epoch: 4))
        // From server 0: the eleventh redirect is refused.
        let result = await client.join(target: address(servers[0]), request: request, timeout: .seconds(30))
        guard case .failure(let error) = result else {
            Issue.record("expected too many redirects, got \(result)")
            return
        }
        #expect(error.code == .tooManyRedirects)
        #expect(error.detail.contains("more than 10 times"), "\(error)")
        await shutdown(servers)
    }

    @Test func noLeaderThenLeaderJoinsOnTheSecondAttempt() async throws {
        let calls = Locked(0)
        let reply = accepted()
        let server = try await HTTPServer.start { _ in
            let call = calls.withLock { count in
                count += 1
                return count
            }
            return call == 1 ? HTTPResponse(status: 503, bytes: BootstrapWire.errorBody("no leader yet; retry")) : reply
        }
        let sink = MemoryLogSink()
        let joiner = Self.patientJoiner(attempts: 3, sink: sink)
        let result = try await joiner.join(targets: [address(server)], request: request)
        #expect(result.leader == leader && result.epoch == 4)
        #expect(calls.value == 2)
        #expect(sink.lines.contains { $0.contains("attempt 1/3") && $0.contains("no leader yet") })
        // The node's own words, once: the line said "answered 503 (no leader yet): no leader yet; retry".
        let attempt = sink.lines.first { $0.contains("attempt 1/3") } ?? ""
        #expect(attempt.contains("answered 503: no leader yet; retry")
                    && !attempt.contains("(no leader yet): no leader yet"), "\(attempt)")
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func aRefusalIsReportedAtOnceAndNotRetried() async throws {
        let calls = Locked(0)
        let server = try await HTTPServer.start { _ in
            calls.withLock { $0 += 1 }
            return HTTPResponse(status: 409, bytes: BootstrapWire.errorBody(
                "cluster name mismatch: this node runs cluster \"blue\", the join says \"disco\"; wipe the data directory to re-bootstrap"))
        }
        let joiner = Self.patientJoiner(attempts: 5, sink: MemoryLogSink())
        do {
            _ = try await joiner.join(targets: [address(server)], request: request)
            Issue.record("expected a refusal")
        } catch let error as JoinError {
            #expect(error.code == .refused)
            #expect(error.detail.contains("\"blue\"") && error.detail.contains("\"disco\""))
        }
        #expect(calls.value == 1)
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func targetsAreTriedInOrderPastDeadOnes() async throws {
        let refusing = try FreePort.Refusing()
        let dead = PeerAddress(host: "127.0.0.1", port: refusing.port)
        let reply = accepted()
        let server = try await HTTPServer.start { _ in reply }
        let result = await BootstrapClient().join(targets: [dead, address(server)], request: request, timeout: .seconds(30))
        #expect(result == .joined(JoinAccepted(leader: leader, cluster: "disco", epoch: 4), via: address(server)))
        let none = await BootstrapClient().join(targets: [dead], request: request, timeout: .seconds(5))
        guard case .failed(let failures) = none else {
            Issue.record("expected a failure, got \(none)")
            return
        }
        #expect(failures.count == 1 && failures[0].code == .unreachable)
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func joinerGivesUpAfterItsAttemptsNamingTheLastErrors() async throws {
        let server = try await HTTPServer.start { _ in HTTPResponse(status: 503, bytes: BootstrapWire.errorBody("no leader yet; retry")) }
        // A generous per-request timeout: the errors named must be the server's answers, not
        // timeouts of a loaded machine.
        let joiner = Joiner(attempts: 2, interval: .milliseconds(10), timeout: .seconds(30),
                            logger: Logger(label: "join", handler: LogfmtHandler(sink: MemoryLogSink())))
        do {
            _ = try await joiner.join(targets: [address(server)], request: request)
            Issue.record("expected the joiner to give up")
        } catch let error as JoinError {
            #expect(error.code == .failed)
            #expect(error.detail.contains("after 2 attempts") && error.detail.contains("no leader yet"))
        }
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// A follower serving HTTPS that names a leader at an `http://` URL: the join is not sent
    /// there (it carries the -join-as credentials), and the error names both URLs; the joiner's
    /// final error (what discod exits with) says so too.
    @Test func aJoinRedirectFromHTTPSToHTTPIsRefused() async throws {
        let certificates = try await CertificateFixture.make(name: "join-downgrade")
        let credential = try await certificates.nodes(1)[0]
        let received = Locked<[String]>([])
        let reply = accepted()
        let plain = try await HTTPServer.start { request in
            received.withLock { $0.append("\(request.method) \(request.target) \(request.headers["Authorization"] ?? "-")") }
            return reply
        }
        let location = "http://127.0.0.1:\(plain.localAddress.port)/join"
        var configuration = HTTPServerConfiguration()
        configuration.transport = try TLSTransportFactory.server(
            .server(certificateChain: .file(credential.certificate), privateKey: .file(credential.key), label: "follower"))
        let follower = try await HTTPServer.start(configuration: configuration) { _ in
            HTTPResponse(status: 307, headers: ["Location": location], bytes: BootstrapWire.errorBody("not the leader"))
        }
        let tls = TLSTransportFactory(try TLSContextStore(client: .client(trustRoots: .pem(.file(certificates.ca.certificate)), label: "join")))
        let client = BootstrapClient(http: HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(30), httpsTransport: tls)),
                                     authorization: "Basic am9pbmVyOnNlY3JldA==", apiScheme: .https)
        let target = PeerAddress(host: "127.0.0.1", port: follower.localAddress.port, scheme: .https)
        let result = await client.join(target: target, request: request, timeout: .seconds(30))
        guard case .failure(let error) = result else {
            Issue.record("expected the redirect to plain HTTP to be refused, got \(result)")
            return
        }
        let from = "https://127.0.0.1:\(follower.localAddress.port)/join"
        #expect(error.code == .insecureRedirect)
        #expect(error.detail.contains(from) && error.detail.contains(location) && error.detail.contains("-join-as credentials"), "\(error)")

        let sink = MemoryLogSink()
        let joiner = Joiner(client: client, attempts: 1, interval: .milliseconds(10), timeout: .seconds(30),
                            logger: Logger(label: "join", handler: LogfmtHandler(sink: sink)))
        do {
            _ = try await joiner.join(targets: [target], request: request)
            Issue.record("expected the joiner to give up")
        } catch let error as JoinError {
            #expect(error.detail.contains(location) && error.detail.contains("unencrypted"), "\(error)")
        }
        #expect(received.withLock { $0 }.isEmpty, "the plain HTTP server received \(received.withLock { $0 })")
        await shutdown([follower, plain])
    }
}
