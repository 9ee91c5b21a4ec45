// MARK: - AddressProvider

/// A source of peer addresses: static `-join` lists, DNS, DNS SRV, or a KV store.
///
/// Every discovery mode is one of these. A lookup returns HTTP API addresses of candidate peers
/// (the seed's semantics). Implementations apply their own timeouts and throw errors that say
/// which server, which record and what went wrong.
public protocol AddressProvider: Sendable {
    /// A short human-readable description for logs and `/status`, e.g. `dns rqlite.local`.
    var name: String { get }

    /// Runs one discovery round.
    func lookup() async throws -> [PeerAddress]
}

// MARK: - StaticAddressProvider

/// The provider behind `-join`: a fixed list of addresses, returned in the order given with
/// duplicates removed.
public struct StaticAddressProvider: AddressProvider {
    /// The addresses, de-duplicated, in the order first given.
    public let addresses: [PeerAddress]

    public init(_ addresses: [PeerAddress]) {
        var seen = Set<PeerAddress>()
        self.addresses = addresses.filter { seen.insert($0.withoutScheme).inserted }
    }

    /// Parses a comma-separated `-join` value such as `http://h1:4001,h2:4001`.
    /// Empty items (as in a trailing comma) are ignored.
    public init(parsingJoinList list: String, defaultPort: UInt16? = nil) throws(PeerAddressError) {
        var parsed: [PeerAddress] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: true) {
            parsed.append(try PeerAddress(parsing: String(item), defaultPort: defaultPort))
        }
        self.init(parsed)
    }

    public var name: String { "static \(addresses.map(\.description).joined(separator: ","))" }

    public func lookup() async throws -> [PeerAddress] { addresses }
}
