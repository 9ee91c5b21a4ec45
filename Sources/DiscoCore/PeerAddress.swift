// MARK: - PeerAddress

/// A network endpoint: a host (name, IPv4 or IPv6 literal) and a port.
///
/// Parses the forms operators write: `host:port`, `[v6]:port` (any host may be bracketed, as Go
/// allows: `[10.1.2.3]:4001` is `10.1.2.3:4001`), and URLs `http://host:port` or
/// `https://host:port` (a trailing `/` is allowed; any other path is not). When printed, IPv6
/// literals are bracketed (`[::1]:4001`), so `description` always parses back to the same value.
public struct PeerAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The URL scheme when one was given or is implied (`http` or `https`).
    public enum Scheme: String, Sendable, Hashable {
        case http
        case https
    }

    /// Host name or IP literal, without brackets.
    public let host: String
    /// TCP or UDP port, 1...65535 (0 only when created in code to ask the OS for a port).
    public let port: UInt16
    /// The scheme given in the input, if any.
    public let scheme: Scheme?

    /// Creates an address from parts. `host` must not be bracketed.
    public init(host: String, port: UInt16, scheme: Scheme? = nil) {
        self.host = host
        self.port = port
        self.scheme = scheme
    }

    /// Whether the host is an IPv6 literal (contains a colon).
    public var isIPv6Literal: Bool { host.contains(":") }

    /// Whether the host is an unspecified (wildcard) IP address in any spelling: `0.0.0.0`, `::`,
    /// `::0`, `0:0::0`, `::ffff:0.0.0.0` (as Go's `net.IP.IsUnspecified`). Such an address can be
    /// bound (every interface) but not advertised.
    public var hasUnspecifiedHost: Bool { Self.isUnspecifiedHost(host) }

    /// Whether the host means every interface: empty (`:4001`, as Go's `net.Listen` reads it) or
    /// unspecified (``hasUnspecifiedHost``). Such an address can be bound but not advertised.
    public var listensOnEveryInterface: Bool { Self.isEveryInterfaceHost(host) }

    /// ``listensOnEveryInterface`` for a host as text.
    public static func isEveryInterfaceHost(_ host: String) -> Bool {
        host.isEmpty || isUnspecifiedHost(host)
    }

    /// ``hasUnspecifiedHost`` for a host as text (brackets and an IPv6 `%zone` allowed).
    public static func isUnspecifiedHost(_ host: String) -> Bool {
        var text = Substring(host.lowercased())
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        if text == "0.0.0.0" { return true }
        guard text.contains(":") else { return false }
        func allZero(_ part: Substring) -> Bool { part.allSatisfy { $0 == "0" || $0 == ":" } }
        guard let dot = text.firstIndex(of: ".") else { return allZero(text) }
        // An IPv4 tail: ::0.0.0.0 or the IPv4-mapped ::ffff:0.0.0.0.
        guard let colon = text[..<dot].lastIndex(of: ":"), text[text.index(after: colon)...] == "0.0.0.0" else { return false }
        var head = text[...colon]
        if head.hasSuffix(":ffff:") { head = head.dropLast(5) }
        return allZero(head)
    }

    /// `host:port`, with IPv6 literals bracketed (`:port` for an empty host, every interface).
    /// Never includes the scheme.
    public var description: String {
        isIPv6Literal ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// ``description`` for an address listened on, saying what a wildcard covers:
    /// `:4001 (every interface, IPv6 and IPv4)`, `[::]:4001 (every interface, IPv6 and IPv4)`,
    /// `0.0.0.0:4001 (every IPv4 interface)`; any other address as it is.
    public var listenDescription: String {
        guard listensOnEveryInterface else { return description }
        let ipv4Only = host.lowercased().contains(".")  // 0.0.0.0, ::ffff:0.0.0.0: IPv4 only
        return description + (ipv4Only ? " (every IPv4 interface)" : " (every interface, IPv6 and IPv4)")
    }

    /// The address as a URL base, `http://host:port` (or the scheme given in the input).
    public var url: String { "\((scheme ?? .http).rawValue)://\(description)" }

    /// The same endpoint without scheme information.
    public var withoutScheme: PeerAddress { PeerAddress(host: host, port: port) }

    /// Whether listening on this address and on `other` on one machine would take the same port:
    /// the same port, other than 0 (the system picks a free port for each), and the same host or
    /// a wildcard on either side (`0.0.0.0`, `::`, an empty host: every interface). `localhost`
    /// counts as both of its loopback addresses. Different hosts on one port (`127.0.0.1:80` and
    /// `127.0.0.2:80`) can both listen.
    public func listensOnSamePort(as other: PeerAddress) -> Bool {
        guard port != 0, port == other.port else { return false }
        if listensOnEveryInterface || other.listensOnEveryInterface { return true }
        return !Self.listeningHosts(host).isDisjoint(with: Self.listeningHosts(other.host))
    }

    /// The hosts `host` stands for when listening or connecting on this machine: lower case,
    /// without brackets, `localhost` as both of its loopback addresses.
    public static func listeningHosts(_ host: String) -> Set<String> {
        var text = Substring(host.lowercased())
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        return text == "localhost" ? ["127.0.0.1", "::1"] : [String(text)]
    }

    public static func < (lhs: PeerAddress, rhs: PeerAddress) -> Bool {
        if lhs.host != rhs.host { return lhs.host.utf8.lexicographicallyPrecedes(rhs.host.utf8) }
        return lhs.port < rhs.port
    }
}

// MARK: - Parsing

/// Why a string is not a valid address; `description` says what was expected.
public struct PeerAddressError: Error, Equatable, CustomStringConvertible {
    /// The text that failed to parse.
    public let input: String
    /// What is wrong with it.
    public let reason: String

    public var description: String {
        "invalid address \(input.debugDescription): \(reason) (expected host:port, [ipv6]:port or http(s)://host:port)"
    }
}

extension PeerAddress {
    /// Parses `host:port`, `[v6]:port`, `http://host:port` or `https://host:port`.
    ///
    /// - Parameter defaultPort: used when the input has no port (`host`, `http://host`);
    ///   when `nil`, a missing port is an error.
    public init(parsing input: String, defaultPort: UInt16? = nil) throws(PeerAddressError) {
        func fail(_ reason: String) -> PeerAddressError { PeerAddressError(input: input, reason: reason) }
        var rest = Substring(input)
        guard !rest.isEmpty else { throw fail("empty") }
        guard !rest.contains(where: { $0.isWhitespace }) else { throw fail("contains whitespace") }

        var scheme: Scheme?
        if let range = rest.firstRange(of: "://") {
            let name = rest[..<range.lowerBound].lowercased()
            guard let known = Scheme(rawValue: name) else {
                throw fail("unsupported scheme \(name.debugDescription); use http or https")
            }
            scheme = known
            rest = rest[range.upperBound...]
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            guard !rest.contains("/") else { throw fail("a path is not allowed") }
        }
        guard !rest.contains("/") else { throw fail("unexpected '/'") }

        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw fail("missing ']' after IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.isEmpty {
                portText = nil
            } else if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else {
                throw fail("expected ':' after ']'")
            }
            // Any host may be bracketed, as Go's SplitHostPort (and so rqlite) allows: one
            // spelling, `[$(POD_IP)]:4001`, then serves IPv4 and IPv6 pods alike.
        } else {
            let colons = rest.filter { $0 == ":" }.count
            if colons == 0 {
                host = rest
                portText = nil
            } else if colons == 1, let colon = rest.firstIndex(of: ":") {
                host = rest[..<colon]
                portText = rest[rest.index(after: colon)...]
            } else {
                throw fail("IPv6 addresses must be bracketed, as in [::1]:4001")
            }
        }
        guard !host.isEmpty else { throw fail("missing host") }
        guard PeerAddress.isPlausibleHost(host) else { throw fail("invalid character in host \(String(host).debugDescription)") }

        let port: UInt16
        if let portText {
            guard !portText.isEmpty else { throw fail("missing port after ':'") }
            guard portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), portText.utf8.count <= 5,
                let value = UInt16(portText), value > 0
            else { throw fail("port \(String(portText).debugDescription) is not a number from 1 to 65535") }
            port = value
        } else if let defaultPort {
            port = defaultPort
        } else {
            throw fail("missing port")
        }
        self.init(host: String(host), port: port, scheme: scheme)
    }

    /// Parses an address to listen on: what ``init(parsing:defaultPort:)`` takes, or `:port`
    /// for every interface, IPv6 and IPv4 (an empty host, as Go's `net.Listen(":4001")`). No URL
    /// scheme.
    public init(parsingListenAddress input: String) throws(PeerAddressError) {
        if input.hasPrefix(":") {
            do throws(PeerAddressError) {
                // The port as any other address's: "0.0.0.0" only stands in for the empty host.
                self.init(host: "", port: try PeerAddress(parsing: "0.0.0.0" + input).port)
            } catch {
                throw PeerAddressError(input: input, reason: error.reason)
            }
            return
        }
        try self.init(parsing: input)
        guard scheme == nil else {
            throw PeerAddressError(input: input, reason: "a listen address takes no scheme (\(scheme?.rawValue ?? "")://)")
        }
    }

    /// Host names, IPv4 and IPv6 literals (with an optional `%zone`): letters, digits, `-._:%`.
    static func isPlausibleHost(_ host: Substring) -> Bool {
        host.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "%"):
                return true
            default:
                return false
            }
        }
    }
}
