// disco-bench-http: the HTTP benchmark's server, and a streaming soak.
//
//   disco-bench-http [port] [threads]   answer every request with 200 "ok", like the nginx
//                                        anchor's `return 200 "ok";` (prints "listening <port>")
//       [--cert FILE --key FILE]         over HTTPS (TLS 1.2 and 1.3, ALPN http/1.1), as the TLS
//       [--ciphers LIST]                 benchmark's nginx does; OpenSSL's TLS 1.2 cipher list,
//       [--ciphersuites LIST]            its TLS 1.3 suites, and no session resumption
//       [--no-resumption]
//   disco-bench-http app HOST:PORT       a stand-in application (the Kubernetes harness's): every
//                                        request gets one JSON line naming $HOSTNAME, the method,
//                                        the path and how many requests of that method it has seen
//   disco-bench-http fenced-store HOST:PORT
//                                        the hot/cold benchmark's shared store: refuses a token
//                                        lower than the highest it accepted
//   disco-bench-http fenced-app HOST:PORT STORE_URL NAME [ELECTED_FILE]
//                                        one replica's service: writes go to the store with the
//                                        sidecar's Disco-Fencing-Token, or ELECTED_FILE's number
//   disco-bench-http echo BYTES          stream BYTES through an in-process echo server and
//                                        client; prints one `echo ...` line with the bytes, the
//                                        content check and this process's resident memory
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "app" {
    exit(await StandInApp.run(Array(arguments.dropFirst())))
}
if arguments.first == "fenced-store" {
    exit(await FencedService.runStore(Array(arguments.dropFirst())))
}
if arguments.first == "fenced-app" {
    exit(await FencedService.runApp(Array(arguments.dropFirst())))
}
if arguments.first == "echo" {
    exit(await EchoSoak.run(Array(arguments.dropFirst())))
}
try await BenchServer.run(arguments)
