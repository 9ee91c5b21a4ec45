import DiscoCore
import DiscoNet
import DiscoSystem
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - The hot/cold benchmark's service: a fenced store and one small app per replica

/// `disco-bench-http fenced-store HOST:PORT`: the database the replicas share. `POST /write` with
/// `Fencing-Token: N` and `Replica: NAME` is accepted (200 `NAME accepted token=N`) unless a
/// higher token was accepted before (409), the check an application makes with the token.
///
/// `disco-bench-http fenced-app HOST:PORT STORE_URL NAME [ELECTED_FILE]`: one replica's service.
/// Reads answer `NAME read`; a write is passed to the store with the replica's token: the
/// request's `Disco-Fencing-Token` (behind `disco-sidecar -hot-cold`), or, with `ELECTED_FILE`,
/// the number in that file (written by `disco-bench-node elect` once etcd elected this replica;
/// missing or empty: not elected, 503). A write without a token is refused (400).
enum FencedService {
    static func runStore(_ arguments: [String]) async -> Int32 {
        guard arguments.count == 1, let listen = try? PeerAddress(parsing: arguments[0]) else {
            fputs("usage: disco-bench-http fenced-store HOST:PORT\n", stderr)
            return 2
        }
        let highest = Mutex<UInt64>(0)
        return await serve(listen, name: "fenced-store") { request in
            guard request.method == "POST", request.path == "/write" else { return .text("POST /write only", status: 404) }
            guard let token = request.headers["Fencing-Token"].flatMap({ UInt64($0) }), let replica = request.headers["Replica"] else {
                return .text("a write needs Fencing-Token: N and Replica: NAME", status: 400)
            }
            let seen = highest.withLock { highest -> UInt64? in
                guard token >= highest else { return highest }
                highest = token
                return nil
            }
            if let seen { return .text("token \(token) is below the highest accepted, \(seen)", status: 409) }
            return .text("\(replica) accepted token=\(token)")
        }
    }

    static func runApp(_ arguments: [String]) async -> Int32 {
        guard (3...4).contains(arguments.count), let listen = try? PeerAddress(parsing: arguments[0]) else {
            fputs("usage: disco-bench-http fenced-app HOST:PORT STORE_URL NAME [ELECTED_FILE]\n", stderr)
            return 2
        }
        let store = arguments[1] + "/write"
        let name = arguments[2]
        let electedFile = arguments.count == 4 ? arguments[3] : nil
        let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(1), requestTimeout: .seconds(2)))
        return await serve(listen, name: "fenced-app") { request in
            if ["GET", "HEAD"].contains(request.method) { return .text("\(name) read") }
            let token: UInt64?
            if let electedFile {
                let text = (try? ProcessEnvironment.readFileIfExists(electedFile)).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) }
                guard let elected = text.flatMap({ UInt64($0.filter { !$0.isWhitespace }) }) else {
                    return .text("\(name) is not elected", status: 503)
                }
                token = elected
            } else {
                token = request.headers["Disco-Fencing-Token"].flatMap { UInt64($0) }
            }
            guard let token else { return .text("\(name): a write without Disco-Fencing-Token", status: 400) }
            var headers = HTTPHeaders()
            headers.add(name: "Fencing-Token", value: String(token))
            headers.add(name: "Replica", value: name)
            do {
                let answer = try await client.send(HTTPClientRequest(method: "POST", url: store, headers: headers, body: request.body))
                return HTTPResponse(status: answer.status, headers: ["Content-Type": "text/plain"], bytes: answer.body)
            } catch {
                return .text("\(name): the store did not answer: \(error)", status: 502)
            }
        }
    }

    /// Serves `handler` on `listen` until the process is killed; prints `listening PORT`.
    private static func serve(_ listen: PeerAddress, name: String,
                              _ handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) async -> Int32 {
        do throws(any Error) {
            let group = try EventLoopGroup(threads: 1, name: name)
            var configuration = HTTPServerConfiguration(host: listen.host, port: listen.port)
            configuration.logger = Logger(label: name, level: .warning, handler: LogfmtHandler())
            let server = try await HTTPServer.start(configuration: configuration, group: group, handler: handler)
            print("listening \(server.localAddress.port)")
            fflush(stdout)
            while true { try await Task.sleep(for: .seconds(3600)) }
        } catch {
            fputs("disco-bench-http \(name): \(error)\n", stderr)
            return 1
        }
    }
}
