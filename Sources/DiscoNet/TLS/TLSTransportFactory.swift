// MARK: - Making TLS transports

/// Layers TLS over accepted or connected TCP streams, with the current context of a
/// ``TLSContextStore`` (so a reload applies to new connections while open ones keep theirs).
///
/// Give it to ``HTTPServerConfiguration/transport``, ``HTTPClientConfiguration/httpsTransport``,
/// ``TCPListener/bind(host:port:backlog:group:transport:)`` or ``TCPConnection/connect(to:timeout:group:transport:serverName:)``.
public struct TLSTransportFactory: ByteStreamTransportFactory {
    public let store: TLSContextStore

    public init(_ store: TLSContextStore) {
        self.store = store
    }

    /// A factory over a context built once from `configuration` (no reloading).
    public static func server(_ configuration: TLSConfiguration) throws(TLSError) -> TLSTransportFactory {
        TLSTransportFactory(try TLSContextStore(server: configuration))
    }

    /// A client factory over a context built once from `configuration`.
    public static func client(_ configuration: TLSConfiguration) throws(TLSError) -> TLSTransportFactory {
        TLSTransportFactory(try TLSContextStore(client: configuration))
    }

    public func makeTransport(over tcp: TCPTransport, role: TransportRole) throws -> any ByteStreamTransport {
        let context = store.current
        let wantsServer = role.serverName == nil
        guard context.isServer == wantsServer else {
            throw TLSError(.badConfiguration, detail: "a TLS \(context.isServer ? "server" : "client") context cannot "
                + "\(wantsServer ? "accept" : "open") connections (\(context.configuration.label))")
        }
        let transport = try TLSTransport(tcp: tcp, context: context, role: role)
        transport.start()
        return transport
    }
}

// MARK: - Waiting for the handshake

extension ByteStreamTransport {
    /// Calls `done` on the loop once the stream can carry bytes: at once for plain TCP, after
    /// the handshake (or with its failure) for TLS.
    func whenReady(_ done: @escaping (NetworkError?) -> Void) {
        if let tls = self as? TLSTransport {
            tls.whenEstablished(done)
        } else {
            done(nil)
        }
    }
}

// MARK: - The default HTTPS client

extension TLSTransportFactory {
    /// TLS for `https://` URLs when nothing else is configured: servers verified against the
    /// system's CAs, no client certificate, sessions resumed. Built on first use.
    public static let systemClient: any ByteStreamTransportFactory = {
        do {
            return try TLSTransportFactory.client(.client(label: "HTTPS client"))
        } catch {
            return UnavailableTransportFactory(reason: "TLS is unavailable: \(error)")
        }
    }()
}

/// A factory that refuses every connection with `reason` (a TLS default that could not load).
struct UnavailableTransportFactory: ByteStreamTransportFactory {
    let reason: String

    func makeTransport(over tcp: TCPTransport, role: TransportRole) throws -> any ByteStreamTransport {
        throw TLSError(.badConfiguration, detail: reason)
    }
}
