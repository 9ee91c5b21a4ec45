// MARK: - One log line per peer host and interval

/// Lets one log line per peer host through per `interval` and counts the ones held back, so a
/// peer that reconnects in a loop with frames this node refuses (another key, another cluster)
/// cannot flood the log. Keyed by host, not `host:port`: each reconnect comes from a new port.
/// A reason other than the host's last logged one is logged at once.
/// Remembers at most `capacity` hosts; when full, it forgets those logged more than an
/// interval ago, and if none are, starts afresh (a line too many, never unbounded memory).
struct PeerLogThrottle: Sendable {
    let interval: Duration
    let capacity: Int
    private var hosts: [String: (lastLogged: ContinuousClock.Instant, reason: String, suppressed: Int)] = [:]

    init(interval: Duration = .seconds(10), capacity: Int = 256) {
        self.interval = interval
        self.capacity = capacity
    }

    /// Whether to log a line about `peer` (`host:port` or `[v6]:port`) for `reason` at `now`;
    /// when true, `suppressed` tells how many lines about its host were held back since the last one.
    mutating func shouldLog(_ peer: String, reason: String, at now: ContinuousClock.Instant) -> (log: Bool, suppressed: Int) {
        let host = Self.host(of: peer)
        if let entry = hosts[host], entry.reason == reason, now - entry.lastLogged < interval {
            hosts[host]?.suppressed += 1
            return (false, 0)
        }
        if hosts[host] == nil, hosts.count >= capacity {
            hosts = hosts.filter { now - $0.value.lastLogged < interval }
            if hosts.count >= capacity { hosts.removeAll() }
        }
        let suppressed = hosts[host]?.suppressed ?? 0
        hosts[host] = (now, reason, 0)
        return (true, suppressed)
    }

    /// How many hosts it remembers.
    var trackedHosts: Int { hosts.count }

    /// `peer` without its port (the whole string when it has none).
    static func host(of peer: String) -> String {
        guard let colon = peer.lastIndex(of: ":") else { return peer }
        let host = peer[..<colon]
        if host.hasPrefix("[") || !host.contains(":") { return String(host) }
        return peer
    }
}
