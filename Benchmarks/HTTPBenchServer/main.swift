// disco-bench-http: the HTTP benchmark's server. Answers every request with 200 "ok", like the
// nginx anchor's `return 200 "ok";`, on a given number of event loop threads.
//
// Usage: disco-bench-http [port] [threads]   (prints "listening <port>" once ready)
import DiscoNet

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

@main
struct HTTPBenchServer {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let port = arguments.count > 1 ? UInt16(arguments[1]) ?? 0 : 0
        let threads = arguments.count > 2 ? Int(arguments[2]) ?? 1 : 1
        let group = try EventLoopGroup(threads: threads, name: "bench")
        let body: [UInt8] = Array("ok".utf8)
        let headers: HTTPHeaders = ["Content-Type": "text/plain"]
        let server = try await HTTPServer.start(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: port),
            group: group
        ) { _ in
            HTTPResponse(status: 200, headers: headers, bytes: body)
        }
        print("listening \(server.localAddress.port)")
        fflush(stdout)
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
