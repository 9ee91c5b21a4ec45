// MARK: - RateLimitKeySource

/// What a zone counts requests by (nginx's `limit_req_zone` key variable). The core only ever
/// sees the resulting ``RateLimitKey``; the proxy extracts it from the request.
public enum RateLimitKeySource: Hashable, Sendable, CustomStringConvertible {
    /// The client's address as 4 (IPv4) or 16 (IPv6) bytes, like `$binary_remote_addr`.
    case address
    /// The `app_id` of the request's API key, when the proxy checked the key; a request whose key
    /// it did not check (its method needs none) counts by its client's address instead.
    case appID
    /// The value of a request header, named in lower case (empty when absent), like `$http_NAME`.
    case header(String)

    /// As written in `key=`: `addr`, `app_id`, `header:x-api-user`.
    public var description: String {
        switch self {
        case .address: "addr"
        case .appID: "app_id"
        case .header(let name): "header:\(name)"
        }
    }
}

// MARK: - LimitReqZone

/// A zone (nginx's `limit_req_zone`): a name, what it counts by, its rate and its memory size.
/// Limits (``LimitReq``) refer to a zone and add a burst; several limits may share one zone.
public struct LimitReqZone: Hashable, Sendable {
    /// The smallest zone nginx accepts: 8 pages of 4 KiB.
    public static let minimumSize = 32 * 1024
    /// The largest zone accepted here (memory grows with the keys seen, never past the size).
    public static let maximumSize = 65536 * 1024 * 1024
    /// nginx's usual `10m`.
    public static let defaultSize = 10 * 1024 * 1024

    public var name: String
    public var key: RateLimitKeySource
    public var rate: LimitRate
    /// The zone's size in bytes (`size=10m`); see ``LimitReqZoneBudget`` for how many states fit.
    public var size: Int

    public init(name: String, key: RateLimitKeySource = .address, rate: LimitRate, size: Int = LimitReqZone.defaultSize) {
        self.name = name
        self.key = key
        self.rate = rate
        self.size = size
    }

    /// The memory budget states are charged against.
    public var budget: LimitReqZoneBudget { LimitReqZoneBudget(zoneSize: size, zoneName: name) }
}

// MARK: - LimitReqZoneBudget

/// How many states a zone of a given size holds, computed as nginx 1.22's slab allocator lays out
/// a shared memory zone on 64-bit Linux (4 KiB pages), so the same `size` forgets the same
/// clients at the same moment:
///
/// - The zone starts with the slab pool header, its 9 size-class slots and their statistics
///   (704 bytes), then one 24-byte descriptor per page; pages start at the next 4 KiB boundary.
///   That gives `pages` usable pages (7 for `32k`, 254 for `1m`).
/// - 128 bytes go to the zone's tree and queue heads, from the 128-byte class that states use,
///   and the zone's log text (22 bytes plus the name) takes a page of its own class, or another
///   128 bytes for names of 43 to 106 bytes.
/// - A state costs nginx 80 bytes plus the key, rounded up to its slab class: a power of two up
///   to 2 KiB, whole pages above. Keys of up to 48 bytes (addresses, typical API keys) take 128.
///
/// So `32k` holds 191 address states and `1m` 8,095, the figures real nginx shows (the
/// differential test checks them). This budget counts bytes; a zone places its states in pages
/// as nginx does (``LimitReqSlab``), so with keys of other or mixed classes it holds fewer
/// (a `32k` zone of 60-byte keys holds 80, as nginx's), never more.
public struct LimitReqZoneBudget: Hashable, Sendable {
    static let pageSize = 4096
    static let poolHeaderBytes = 704
    static let pageDescriptorBytes = 24
    static let zoneHeaderBytes = 128
    static let stateHeaderBytes = 80
    /// ` in limit_req zone ""` and its terminating zero.
    static let logTextBytes = 22

    /// Bytes available to states.
    public let bytes: Int

    public init(zoneSize: Int, zoneName: String) {
        let pages = Self.pages(zoneSize: zoneSize)
        let logText = Self.stateBytes(keyLength: 0, header: Self.logTextBytes + zoneName.utf8.count)
        let overhead = Self.zoneHeaderBytes + (logText == Self.zoneHeaderBytes ? logText : Self.pageSize)
        bytes = max(0, pages * Self.pageSize - overhead)
    }

    /// The pages nginx's slab pool of a `zoneSize`-byte zone has for allocations.
    static func pages(zoneSize: Int) -> Int {
        let size = max(zoneSize, 0)
        let descriptorPages = max(0, size - poolHeaderBytes) / (pageSize + pageDescriptorBytes)
        let firstPage = roundUp(poolHeaderBytes + descriptorPages * pageDescriptorBytes, to: pageSize)
        return min(descriptorPages, max(0, size - firstPage) / pageSize)
    }

    /// The bytes one state with a key of `keyLength` bytes takes (nginx's slab class for it).
    public static func stateBytes(keyLength: Int) -> Int {
        stateBytes(keyLength: keyLength, header: stateHeaderBytes)
    }

    static func stateBytes(keyLength: Int, header: Int) -> Int {
        let size = header + keyLength
        if size > pageSize / 2 { return roundUp(size, to: pageSize) }
        var chunk = 8
        while chunk < size { chunk <<= 1 }
        return chunk
    }

    /// How many states with keys of `keyLength` bytes the bytes allow when nothing else is
    /// stored: exactly nginx's figure for keys of up to 48 bytes; for longer ones the pages hold
    /// fewer (``LimitReqSlab``: 80, not 95, 60-byte keys in `32k`).
    public func capacity(keyLength: Int) -> Int { bytes / Self.stateBytes(keyLength: keyLength) }

    static func roundUp(_ value: Int, to multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
}
