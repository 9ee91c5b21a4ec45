import DiscoCore
import DiscoNet
import Foundation

// MARK: - DiscodProcess

/// One real `discod` process on loopback, started the way the seed's command lines start it:
/// `discod -node-id ID -http-addr=127.0.0.1:P -raft-addr=127.0.0.1:R [flags…] DATA_DIR`.
public final class DiscodProcess: Sendable {
    public let nodeID: String
    /// The loopback address the node binds (127.0.0.1 unless another 127.x address is given),
    /// or advertises when it binds ``bindHost``.
    public let host: String
    /// The host the node binds when not ``host`` (`""` for `-http-addr :P`, `[::]`): it then
    /// advertises ``host`` with `-http-adv-addr` and `-raft-adv-addr`.
    public let bindHost: String?
    public let httpPort: UInt16
    public let raftPort: UInt16
    public let dataDirectory: String
    public let process: ChildProcess
    /// The flags between the addresses and the data directory.
    public let flags: [String]
    /// What runs discod: empty for the build next to the tests, else a command whose last word is
    /// the discod to run (such as `["/usr/bin/env", "-i", "/dist/discod"]`).
    public let launcher: [String]
    /// An `Authorization` header value sent with every ``request(_:_:body:headers:anonymous:timeout:)``
    /// unless it is anonymous (for nodes started with `-auth`).
    public let authorization: String?
    /// How this test reaches the node's API (plain HTTP, or HTTPS with a CA and a client certificate).
    public let access: DiscodAPIAccess

    /// `http://127.0.0.1:<http port>` (or `https://…`), as `-join` takes it.
    public var apiURL: String { "\(access.scheme)://\(host):\(httpPort)" }
    /// `127.0.0.1:<raft port>`.
    public var raftAddress: String { "\(host):\(raftPort)" }

    /// The command line used (without the executable).
    public var arguments: [String] { process.arguments }

    /// Starts discod. `flags` go between the addresses and the data directory.
    public init(nodeID: String, host: String = "127.0.0.1", bindHost: String? = nil, httpPort: UInt16, raftPort: UInt16,
                dataDirectory: String, flags: [String] = [], environment: [String: String]? = nil, launcher: [String] = [],
                authorization: String? = nil, access: DiscodAPIAccess = .plain) throws {
        self.nodeID = nodeID
        self.authorization = authorization
        self.host = host
        self.bindHost = bindHost
        self.httpPort = httpPort
        self.raftPort = raftPort
        self.dataDirectory = dataDirectory
        self.flags = flags
        self.launcher = launcher
        self.access = access
        let addresses = bindHost.map { bind in
            ["-http-addr=\(bind):\(httpPort)", "-http-adv-addr=\(host):\(httpPort)", "-raft-addr=\(bind):\(raftPort)", "-raft-adv-addr=\(host):\(raftPort)"]
        } ?? ["-http-addr=\(host):\(httpPort)", "-raft-addr=\(host):\(raftPort)"]
        let arguments = ["-node-id", nodeID] + addresses + flags + [dataDirectory]
        process = launcher.isEmpty
            ? ChildProcess(name: "discod[\(nodeID)]", executable: try Self.executable("discod"), arguments: arguments)
            : ChildProcess(name: "discod[\(nodeID)]", executable: launcher[0], arguments: launcher.dropFirst() + arguments)
        try process.start(environment: environment)
    }

    /// The same node again (same ID, data directory, launcher and flags), optionally on new ports.
    public func restarted(httpPort: UInt16? = nil, raftPort: UInt16? = nil, flags: [String]? = nil) throws -> DiscodProcess {
        try DiscodProcess(nodeID: nodeID, host: host, bindHost: bindHost, httpPort: httpPort ?? self.httpPort, raftPort: raftPort ?? self.raftPort,
                          dataDirectory: dataDirectory, flags: flags ?? self.flags, launcher: launcher, authorization: authorization,
                          access: access)
    }

    // MARK: Locating the executables

    /// A product of this package, built next to the test bundle (`.build/<triple>/debug`).
    public static func executable(_ name: String) throws -> String {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent())
        }
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for candidate in candidates {
            let path = candidate.appending(path: name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ChildProcess.Failure(description: "\(name) not found next to the test bundle (looked in \(candidates.map(\.path))); run swift build first")
    }

    // MARK: API

    /// One API request; the body is JSON text, `headers` are added as given, and so is
    /// ``authorization`` unless `anonymous` or `headers` has one. Transport failures throw.
    ///
    /// Without a `timeout`, a read (GET, HEAD) gets 5 s: tests poll reads or ask again
    /// (`firstAnswer`), and a short try keeps a poll of a node that does not answer moving. Any
    /// other method gets 30 s, as ``appendEvent(_:)`` does: a test sends such a change once (it
    /// cannot simply send it again), and a loaded machine can hold one commit longer than 5 s.
    public func request(_ method: String, _ path: String, body: String? = nil, headers extra: [(String, String)] = [],
                        anonymous: Bool = false, timeout: Duration? = nil) async throws -> DiscodAnswer {
        let timeout = timeout ?? (["GET", "HEAD"].contains(method) ? .seconds(5) : .seconds(30))
        var headers = HTTPHeaders()
        if body != nil { headers.add(name: "Content-Type", value: "application/json") }
        for (name, value) in extra { headers.add(name: name, value: value) }
        if !anonymous, let authorization, !headers.contains("Authorization") { headers.add(name: "Authorization", value: authorization) }
        let answer = try await access.client.send(
            HTTPClientRequest(method: method, url: apiURL + path, headers: headers, body: Array((body ?? "").utf8)), timeout: timeout)
        return DiscodAnswer(status: answer.status, body: answer.body, location: answer.headers["Location"], headers: answer.headers)
    }

    /// The leader this node reports (`GET /leader` id), or nil when it has none or does not answer.
    public func leaderID() async -> String? {
        guard let answer = try? await request("GET", "/leader", timeout: .seconds(2)), answer.status == 200 else { return nil }
        return answer.json?["id"]?.stringValue
    }

    /// `GET /status` as JSON.
    public func status() async throws -> JSONValue {
        let answer = try await request("GET", "/status")
        guard answer.status == 200, let json = answer.json else {
            throw ChildProcess.Failure(description: "GET /status on node \(nodeID) answered \(answer.status): \(answer.text)")
        }
        return json
    }

    /// IDs in the Raft configuration according to `GET /nodes`.
    public func memberIDs() async -> [String]? {
        guard let answer = try? await request("GET", "/nodes", timeout: .seconds(2)), answer.status == 200,
              let rows = answer.json?.arrayValue
        else { return nil }
        return rows.compactMap { $0["id"]?.stringValue }.sorted()
    }

    /// IDs of the voters according to `GET /nodes` (joined nodes vote once promoted).
    public func voterIDs() async -> [String]? {
        guard let answer = try? await request("GET", "/nodes", timeout: .seconds(2)), answer.status == 200,
              let rows = answer.json?.arrayValue
        else { return nil }
        return rows.filter { $0["voter"]?.boolValue == true }.compactMap { $0["id"]?.stringValue }.sorted()
    }

    /// Appends an event (any JSON text) through this node; returns its seq on success.
    ///
    /// A test needs this write to succeed and cannot simply send it again (it could be appended
    /// twice), so it may take 30 s: a loaded machine can hold one commit longer than 5 s.
    public func appendEvent(_ json: String) async throws -> UInt64? {
        let answer = try await request("POST", "/events", body: json, timeout: .seconds(30))
        guard answer.status == 200 else { return nil }
        return answer.json?["seq"]?.numberValue?.uint64Value
    }

    /// Every event after `since` as their `data` JSON texts, read in pages of at most `limit`
    /// events (a page may end sooner: the node bounds its bytes), until `next_since` reaches the
    /// log's `last_seq`.
    public func eventData(since: UInt64 = 0, limit: Int = 1000) async throws -> [String] {
        var (since, data) = (since, [String]())
        while true {
            let answer = try await request("GET", "/events?since=\(since)&limit=\(limit)")
            guard answer.status == 200, let events = answer.json?["events"]?.arrayValue,
                  let next = answer.json?["next_since"]?.numberValue?.uint64Value,
                  let last = answer.json?["last_seq"]?.numberValue?.uint64Value
            else {
                throw ChildProcess.Failure(description: "GET /events on node \(nodeID) answered \(answer.status): \(answer.text)")
            }
            data += events.compactMap { $0["data"]?.encoded() }
            guard !events.isEmpty, next < last else { return data }
            since = next
        }
    }

    /// kill -9, then waits (at most 60 s: a starved machine can be slow to reap) for the exit.
    public func kill() async {
        process.send(SIGKILL)
        _ = try? await process.waitForExit(timeout: .seconds(60))
    }

    /// SIGTERM and wait for the exit status (SIGKILL after `grace`). Tests expect a clean exit
    /// (0) from a graceful stop, which hands over leadership and leaves the cluster: the grace is
    /// generous, since a SIGKILL on a starved machine would report 137 for a node that was right.
    public func terminate(grace: Duration = .seconds(60)) async -> Int32? {
        await process.stop(grace: grace)
    }

    /// Connects within 5 s: a connection the test needs must survive a lost SYN, whose
    /// retransmission alone comes 1 s later (a full accept queue on a loaded machine drops it).
    static let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(5), requestTimeout: .seconds(10)))
}

// MARK: - Reaching the API

/// How a test talks to a node's API: plain HTTP, or HTTPS trusting a CA file and presenting a
/// client certificate (for `-http-verify-client`).
public struct DiscodAPIAccess: Sendable {
    /// `http` or `https`.
    public let scheme: String
    public let client: HTTPClient

    /// Plain HTTP with a shared client.
    public static let plain = DiscodAPIAccess(scheme: "http", client: DiscodProcess.client)

    /// HTTPS trusting `caFile`, presenting `certificate` and `key` when given.
    public static func https(caFile: String, certificate: String? = nil, key: String? = nil) throws -> DiscodAPIAccess {
        var tls = TLSConfiguration.client(trustRoots: .pem(.file(caFile)), label: "test client")
        if let certificate, let key {
            tls.certificateChain = .file(certificate)
            tls.privateKey = .file(key)
        }
        let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(5), requestTimeout: .seconds(10),
                                                                       httpsTransport: try TLSTransportFactory.client(tls)))
        return DiscodAPIAccess(scheme: "https", client: client)
    }
}

/// An API answer.
public struct DiscodAnswer: Sendable {
    public let status: Int
    public let body: [UInt8]
    public let location: String?
    public var headers = HTTPHeaders()
    public var text: String { String(decoding: body, as: UTF8.self) }
    public var json: JSONValue? { try? JSONValue.parse(body) }
}
