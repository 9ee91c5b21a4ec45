import DiscoCore

// MARK: - Address flag values

/// Parses the `host:port` values of address flags, as every Disco executable reads them: a
/// value that is not an address is a flag error naming what is wrong.
public enum AddressFlagValue {
    /// `host:port`, `http://host:port` or `https://host:port` (discoctl's `-addr`).
    @Sendable public static func parse(_ text: String) throws(FlagValueError) -> PeerAddress {
        // `a:1,b:2` (a list, as other tools' endpoint flags take) read as one IPv6 address.
        guard !text.contains(",") else { throw FlagValueError("takes one address (host:port), not a list") }
        do throws(PeerAddressError) {
            return try PeerAddress(parsing: text)
        } catch {
            throw FlagValueError("\(error)")
        }
    }

    /// A bind address: `host:port`, or `:port` for every interface, IPv6 and IPv4 (as Go's
    /// `net.Listen` reads it); no URL scheme (rqlite: "must not start with http").
    @Sendable public static func parseBind(_ text: String) throws(FlagValueError) -> PeerAddress {
        guard !text.contains(",") else { throw FlagValueError("takes one address (host:port), not a list") }
        guard !text.contains("://") else {
            throw FlagValueError("expected host:port without http:// or https://, e.g. localhost:4001 or :4001")
        }
        do throws(PeerAddressError) {
            return try PeerAddress(parsingListenAddress: text)
        } catch {
            throw FlagValueError("invalid address \(text.debugDescription): \(error.reason) "
                + "(expected host:port, [ipv6]:port, or :port for every interface)")
        }
    }
}
