// DNSServerCore: the DNS role's answering core, pure. A zone snapshot (DNSZone) is built from
// what a node knows about its cluster and compiled to wire form once; DNSAnswerer turns a query's
// bytes into the response's bytes with no I/O, no clock and no allocation on the common path.
// The shell that puts it on UDP and TCP is DiscoDNSServer.

// The zone's vocabulary (names, addresses, records) is the codec's.
@_exported import DiscoDNSMessage
