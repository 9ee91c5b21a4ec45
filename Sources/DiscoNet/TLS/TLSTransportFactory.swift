import DiscoCore
import Synchronization

// MARK: - Making TLS transports

/// Layers TLS over accepted or connected TCP streams, with the current context of a
/// ``TLSContextStore`` (so a reload applies to new connections while open ones keep theirs).
///
/// Give it to ``HTTPServerConfiguration/transport``, ``HTTPClientConfiguration/httpsTransport``,
/// ``TCPListener/bind(host:port:backlog:group:transport:)`` or ``TCPConnection/connect(to:timeout:group:transport:serverName:)``.
public struct TLSTransportFactory: ByteStreamTransportFactory {
    public let store: TLSContextStore
    /// When set, the factory reloads ``store`` itself: before a new connection, at most this
    /// often, when a file changed (for clients no owner reloads: etcd, Consul).
    private let fileCheck: FileCheckThrottle?

    public init(_ store: TLSContextStore) {
        self.store = store
        self.fileCheck = nil
    }

    /// A factory that reloads `store` when its files change, looking before a new connection at
    /// most every `interval`: a renewed certificate or CA is used without anyone calling reload.
    public init(_ store: TLSContextStore, checkingFilesEvery interval: Duration) {
        self.store = store
        self.fileCheck = store.configuration.files.isEmpty ? nil : FileCheckThrottle(interval: interval)
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
        if let fileCheck, fileCheck.isDue() {
            if case .failed(let error) = store.reloadIfChanged() {
                store.configuration.logger?.error("\(store.configuration.label): reload failed, still using the previous files: \(error)")
            }
        }
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

/// Says yes at most once per interval (monotonic time).
final class FileCheckThrottle: Sendable {
    private let interval: UInt64
    private let last = Mutex<UInt64?>(nil)

    init(interval: Duration) {
        let (seconds, attoseconds) = interval.components
        self.interval = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    func isDue() -> Bool {
        let now = MonotonicClock.nowNanoseconds()
        return last.withLock { last in
            if let previous = last, now &- previous < interval { return false }
            last = now
            return true
        }
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
