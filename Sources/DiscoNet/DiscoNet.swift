// DiscoNet: Disco's networking foundation, built on Glibc, Dispatch and Synchronization only.
//
// Layers, bottom up:
// - System/     one syscall wrapper (EINTR retry, `SystemError` with errno and function name),
//               socket addresses (IPv4/IPv6, getaddrinfo), non-blocking close-on-exec sockets.
// - EventLoop/  epoll loops (level-triggered) with timers and a work queue; each loop is also a
//               TaskExecutor so request handlers run on the loop thread without a hop.
// - Transport/  `ByteStreamTransport`: a connected non-blocking byte stream on a loop (plain TCP
//               now; TLS layers on `TCPTransport` through a `ByteStreamTransportFactory`).
// - TCP/, UDP/  async connections (over a transport), listeners, splicing, datagram sockets.
// - HTTP/       pure incremental parsers (fuzzed); a strict HTTP/1.1 server that streams request
//               bodies with back-pressure and can hand a connection off after 101 or CONNECT;
//               middleware; a pooled client that streams both ways.
// - Framing/    length-prefixed internode frames and a framed connection.
//
// TLS itself is not here yet: the client speaks `http://` only and the server plain HTTP/1.1.
