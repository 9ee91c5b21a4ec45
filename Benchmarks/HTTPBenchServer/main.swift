// disco-bench-http: the HTTP benchmark's server, and a streaming soak.
//
//   disco-bench-http [port] [threads]   answer every request with 200 "ok", like the nginx
//                                        anchor's `return 200 "ok";` (prints "listening <port>")
//   disco-bench-http echo BYTES          stream BYTES through an in-process echo server and
//                                        client; prints one `echo ...` line with the bytes, the
//                                        content check and this process's resident memory
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "echo" {
    exit(await EchoSoak.run(Array(arguments.dropFirst())))
}
try await BenchServer.run(arguments)
