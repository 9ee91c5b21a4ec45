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
        var positional: [String] = []
        var options: [String: String] = [:]
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            if argument == "--no-resumption" {
                options[argument] = ""
            } else if argument.hasPrefix("--") {
                guard let value = remaining.popFirst() else {
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
        let body: [UInt8] = Array("ok".utf8)
        let headers: HTTPHeaders = ["Content-Type": "text/plain"]
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: port)
        configuration.logger = Logger(label: "http", level: .warning, handler: LogfmtHandler())
        if let certificate = options["--cert"], let key = options["--key"] {
            var tls = TLSConfiguration.server(certificateChain: .file(certificate), privateKey: .file(key))
            tls.ciphers = options["--ciphers"]
            tls.cipherSuites = options["--ciphersuites"]
            tls.sessionResumption = options["--no-resumption"] == nil
            configuration.transport = try TLSTransportFactory.server(tls)
        }
        // A fixed answer needs no suspension: answered inline, on the loop that read the request.
        let answer = HTTPResponder.immediate(upTo: configuration.limits.maxBodyBytes) { _ in
            HTTPResponse(status: 200, headers: headers, bytes: body)
        }
        let server = try await HTTPServer.start(configuration: configuration, group: group, responder: answer)
        print("listening \(server.localAddress.port)")
        fflush(stdout)
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
