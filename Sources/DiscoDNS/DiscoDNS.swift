// DiscoDNS: the resolver client for `-disco-mode dns` (and dns-srv's queries): a nameserver
// client over DiscoNet's UDP and TCP, the system resolver's configuration through libresolv,
// getaddrinfo for host names, a TTL cache, and the dns address provider.

// Importing the client gives the whole DNS API: the codec's types are part of the client's.
@_exported import DiscoDNSMessage
