// DiscoNet: sockets, the event loop, HTTP/1.1 server and client, internode framing.
import DiscoCore
