import DiscoCore
import DiscoNet

// MARK: - Server settings

/// Where the DNS server listens and how it treats clients: `-dns-addr` and the limits behind it.
public struct DNSServerConfiguration: Sendable, Hashable {
    /// The default `-dns-addr`.
    public static let defaultAddress = "127.0.0.1:8600"

    /// Host to bind: a numeric address or a name (every address it resolves to is bound).
    public var host: String
    /// UDP and TCP port (the same for both); 0 lets the kernel choose one that is free for both.
    public var port: UInt16
    /// UDP answer sizes and the amplification bound.
    public var limits: DNSAnswerLimits
    /// DNS over TCP: idle timeout (10 s), connection cap (256), back-pressure.
    public var tcp: TCPMessageServerConfiguration
    /// Datagrams taken per system call.
    public var udpBatchSize: Int

    public init(host: String = "127.0.0.1", port: UInt16 = 0, limits: DNSAnswerLimits = .standard,
                tcp: TCPMessageServerConfiguration = TCPMessageServerConfiguration(), udpBatchSize: Int = 32) {
        self.host = host
        self.port = port
        self.limits = limits
        self.tcp = tcp
        self.udpBatchSize = udpBatchSize
    }

    /// Settings for `-dns-addr` (`host:port`, `[v6]:port`, or `:port` for every interface, IPv6
    /// and IPv4; port 0 lets the kernel choose).
    public init(address text: String) throws(DNSSettingsError) {
        guard !text.contains("://") else {
            throw DNSSettingsError(flag: "-dns-addr", "\(text.debugDescription) has a URL scheme; DNS listens on plain host:port, for example 127.0.0.1:8600")
        }
        var address: PeerAddress
        // PeerAddress takes ports 1 to 65535; read port 0 as 1 and put the 0 back.
        let anyPort = text.hasSuffix(":0")
        do {
            address = try PeerAddress(parsingListenAddress: anyPort ? String(text.dropLast()) + "1" : text)
            if anyPort { address = PeerAddress(host: address.host, port: 0) }
        } catch {
            throw DNSSettingsError(flag: "-dns-addr", "\(text.debugDescription) is not host:port (\(error.reason)); "
                + "for example 127.0.0.1:8600, or :8600 for every interface")
        }
        self.init(host: address.host, port: address.port)
    }
}
