// DiscoDNSServer: the DNS role's server. DNSServerCore's answerer on DiscoNet's UDP responder
// and TCP message server, one event loop thread, with zone snapshots swapped atomically.

// Importing the server gives the whole DNS server API: zones, settings and answers are the core's.
@_exported import DNSServerCore
