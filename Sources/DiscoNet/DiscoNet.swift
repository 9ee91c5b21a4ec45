// DiscoNet: Disco's networking foundation, built on Glibc, Dispatch and Synchronization only.
//
// Layers, bottom up:
// - System/     one syscall wrapper (EINTR retry, `SystemError` with errno and function name),
//               socket addresses (IPv4/IPv6, getaddrinfo), non-blocking close-on-exec sockets.
// - EventLoop/  epoll loops (level-triggered) with timers and a work queue; each loop is also a
//               TaskExecutor so request handlers run on the loop thread without a hop.
// - TCP/, UDP/  async connections, listeners and datagram sockets driven by the loops.
// - HTTP/       pure incremental parsers (fuzzed), a strict HTTP/1.1 server, a pooled client.
// - Framing/    length-prefixed internode frames and a framed connection.
//
// TLS is out of scope: the client speaks `http://` only and the server plain HTTP/1.1.
