import DiscoCore
import DiscoNet
import DiscoSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - The `200 ok` server

enum BenchServer {
    /// Serves until killed. Trouble the server handles itself (running out of descriptors) is
    /// logged to stderr.
    static func run(_ arguments: [String]) async throws {
        let port = arguments.count > 0 ? UInt16(arguments[0]) ?? 0 : 0
        let threads = arguments.count > 1 ? Int(arguments[1]) ?? 1 : 1
        let group = try EventLoopGroup(threads: threads, name: "bench")
        let body: [UInt8] = Array("ok".utf8)
        let headers: HTTPHeaders = ["Content-Type": "text/plain"]
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: port)
        configuration.logger = Logger(label: "http", level: .warning, handler: LogfmtHandler())
        let server = try await HTTPServer.start(configuration: configuration, group: group) { _ in
            HTTPResponse(status: 200, headers: headers, bytes: body)
        }
        print("listening \(server.localAddress.port)")
        fflush(stdout)
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
