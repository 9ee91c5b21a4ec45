import DiscoCore
import DiscoNet
import DiscoSystem
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - A stand-in application

/// The service a sidecar fronts in the Kubernetes harness: it answers every request with one
/// JSON line saying who answered and what it saw, so a test can tell which pod's application a
/// request reached through the sidecar:
///
///     {"app":"<HOSTNAME>","method":"POST","path":"/orders","count":3,"app_id":null,"body_bytes":17}
///
/// `count` is how many requests with that method this process has answered (this one included);
/// `app_id` is the `app_id` header as it arrived (a sidecar that checks API keys removes it).
enum StandInApp {
    static func run(_ arguments: [String]) async -> Int32 {
        guard arguments.count == 1, let listen = try? PeerAddress(parsing: arguments[0]) else {
            fputs("usage: disco-bench-http app HOST:PORT   (e.g. 127.0.0.1:9000)\n", stderr)
            return 2
        }
        do {
            try await serve(host: listen.host, port: listen.port)
            return 0
        } catch {
            fputs("disco-bench-http app: \(error)\n", stderr)
            return 1
        }
    }

    private static func serve(host: String, port: UInt16) async throws {
        let name = getenv("HOSTNAME").map { String(cString: $0) } ?? "app"
        let counts = Mutex<[String: Int]>([:])
        let group = try EventLoopGroup(threads: 1, name: "app")
        var configuration = HTTPServerConfiguration(host: host, port: port)
        configuration.logger = Logger(label: "app", level: .warning, handler: LogfmtHandler())
        let server = try await HTTPServer.start(configuration: configuration, group: group) { request in
            let count = counts.withLock { counts -> Int in
                counts[request.method, default: 0] += 1
                return counts[request.method, default: 0]
            }
            var answer = JSONObject()
            answer["app"] = .string(name)
            answer["method"] = .string(request.method)
            answer["path"] = .string(request.path)
            answer["count"] = .number(JSONNumber(count))
            answer["app_id"] = request.headers["app_id"].map(JSONValue.string) ?? .null
            answer["body_bytes"] = .number(JSONNumber(request.body.count))
            return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"],
                                bytes: Array((JSONValue.object(answer).encoded() + "\n").utf8))
        }
        print("listening \(server.localAddress.port)")
        fflush(stdout)
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
