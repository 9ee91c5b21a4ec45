// disco-bench-http: the HTTP benchmark's server. Answers every request with 200 "ok", like the
// nginx anchor's `return 200 "ok";`, on a given number of event loop threads.
//
// Usage: disco-bench-http [port] [threads] [--cert FILE --key FILE] [--ciphers LIST]
//                         [--ciphersuites LIST] [--no-resumption]
// (prints "listening <port>" once ready). With a certificate and key it serves HTTPS (TLS 1.2
// and 1.3, ALPN http/1.1, session resumption unless --no-resumption), as the TLS benchmark's
// nginx does; --ciphers and --ciphersuites take OpenSSL's TLS 1.2 and TLS 1.3 lists.
import DiscoNet

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

@main
struct HTTPBenchServer {
    static func main() async throws {
        var positional: [String] = []
        var options: [String: String] = [:]
        var arguments = CommandLine.arguments.dropFirst()
        while let argument = arguments.popFirst() {
            if argument == "--no-resumption" {
                options[argument] = ""
            } else if argument.hasPrefix("--") {
                guard let value = arguments.popFirst() else {
                    fputs("disco-bench-http: \(argument) needs a value\n", stderr)
                    exit(2)
                }
                options[argument] = value
            } else {
                positional.append(argument)
            }
        }
        let port = positional.count > 0 ? UInt16(positional[0]) ?? 0 : 0
        let threads = positional.count > 1 ? Int(positional[1]) ?? 1 : 1
        let group = try EventLoopGroup(threads: threads, name: "bench")
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: port)
        if let certificate = options["--cert"], let key = options["--key"] {
            var tls = TLSConfiguration.server(certificateChain: .file(certificate), privateKey: .file(key))
            tls.ciphers = options["--ciphers"]
            tls.cipherSuites = options["--ciphersuites"]
            tls.sessionResumption = options["--no-resumption"] == nil
            configuration.transport = try TLSTransportFactory.server(tls)
        }
        let body: [UInt8] = Array("ok".utf8)
        let headers: HTTPHeaders = ["Content-Type": "text/plain"]
        let server = try await HTTPServer.start(configuration: configuration, group: group) { _ in
            HTTPResponse(status: 200, headers: headers, bytes: body)
        }
        print("listening \(server.localAddress.port)")
        fflush(stdout)
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
