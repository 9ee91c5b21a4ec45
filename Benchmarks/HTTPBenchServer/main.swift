// disco-bench-http: the HTTP benchmark's server. Answers every request with 200 "ok", like the
// nginx anchor's `return 200 "ok";`, on a given number of event loop threads.
//
// Usage: disco-bench-http [port] [threads] [cert.pem key.pem [tls13-ciphersuites]]   (prints
// "listening <port>" once ready). With a certificate and key it serves HTTPS (TLS 1.2 and 1.3,
// ALPN http/1.1, session resumption), as the TLS benchmark's nginx does.
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
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: port)
        if arguments.count > 4 {
            var tls = TLSConfiguration.server(certificateChain: .file(arguments[3]), privateKey: .file(arguments[4]))
            if arguments.count > 5 { tls.cipherSuites = arguments[5] }
            configuration.transport = try TLSTransportFactory.server(tls)
        }
        let body: [UInt8] = Array("ok".utf8)
        let headers: HTTPHeaders = ["Content-Type": "text/plain"]
        let server = try await HTTPServer.start(
            configuration: configuration,
            group: group
        ) { _ in
            HTTPResponse(status: 200, headers: headers, bytes: body)
        }
        print("listening \(server.localAddress.port)")
        fflush(stdout)
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
