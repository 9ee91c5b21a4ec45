import DiscoCore
import DiscoNet
import Synchronization

// MARK: - The DNS server

/// The DNS role's server: ``DNSAnswerer`` on UDP and TCP (RFC 7766 framing, pipelining, idle
/// timeout, connection cap) at one address, on one event loop thread of its own.
///
/// Answers come from the current ``DNSZone``; ``update(_:)`` swaps it atomically (every query
/// answered after it returns sees the new snapshot). Build snapshots off the loop: answering
/// costs a few hundred nanoseconds and never allocates, compiling a snapshot does.
public final class DNSServer: Sendable {
    /// Every bound address (a host name may resolve to IPv4 and IPv6); UDP and TCP share each.
    public let localAddresses: [SocketAddress]
    /// The port UDP and TCP listen on.
    public var port: UInt16 { localAddresses[0].port }
    public let configuration: DNSServerConfiguration

    private let holder: DNSZoneHolder
    private let loop: EventLoop
    private let ownsLoop: Bool
    private let listeners: [Listener]
    private let stopped = Atomic<Bool>(false)

    /// One bound address: its UDP and TCP sockets and their responders.
    private struct Listener: Sendable {
        let udp: UDPResponder
        let tcp: TCPMessageServer
        let udpResponder: DNSQueryResponder
        let tcpResponder: DNSQueryResponder
    }

    private init(configuration: DNSServerConfiguration, holder: DNSZoneHolder, loop: EventLoop, ownsLoop: Bool, listeners: [Listener]) {
        self.configuration = configuration
        self.holder = holder
        self.loop = loop
        self.ownsLoop = ownsLoop
        self.listeners = listeners
        localAddresses = listeners.map(\.udp.localAddress)
    }

    /// A server dropped without ``stop()``: its sockets close on the loop, and its own loop ends
    /// after them.
    deinit {
        guard !stopped.load(ordering: .acquiring), ownsLoop else { return }
        let loop = self.loop
        loop.execute { loop.shutdown() }
    }

    /// Binds UDP and TCP on every address `configuration.host` resolves to and starts answering
    /// from `zone`, on `loop` or (by default) on a loop thread of the server's own.
    public static func start(configuration: DNSServerConfiguration, zone: DNSZone, loop: EventLoop? = nil) async throws -> DNSServer {
        let owned = loop == nil
        let loop = try loop ?? EventLoop(name: "disco-dns")
        let holder = DNSZoneHolder(zone)
        do {
            let addresses = try await SocketAddress.resolveAsync(host: configuration.host, port: configuration.port)
            guard !addresses.isEmpty else { throw DNSSettingsError(flag: "-dns-addr", "\(configuration.host) resolves to no address") }
            // With port 0 the kernel picks the UDP port; TCP may find it taken: try again.
            var lastError: (any Error)?
            for _ in 0..<(configuration.port == 0 ? 20 : 1) {
                do {
                    let listeners = try await bind(addresses, configuration: configuration, holder: holder, loop: loop)
                    return DNSServer(configuration: configuration, holder: holder, loop: loop, ownsLoop: owned, listeners: listeners)
                } catch {
                    lastError = error
                }
            }
            throw lastError ?? DNSSettingsError(flag: "-dns-addr", "no address of \(configuration.host) could be bound")
        } catch {
            if owned { loop.shutdown() }
            throw error
        }
    }

    private static func bind(_ addresses: [SocketAddress], configuration: DNSServerConfiguration, holder: DNSZoneHolder,
                             loop: EventLoop) async throws -> [Listener] {
        let answerer = DNSAnswerer(limits: configuration.limits)
        let udpSettings = UDPResponderConfiguration(
            maxRequestSize: 4096, maxResponseSize: configuration.limits.maxUDPPayloadSize, batchSize: configuration.udpBatchSize,
            receiveBufferBytes: 4 << 20)
        var listeners: [Listener] = []
        var port = configuration.port
        do {
            for (index, address) in addresses.enumerated() where !SocketAddress.isCoveredByDualStack(address, bound: listeners.map(\.udp.localAddress)) {
                let udpResponder = DNSQueryResponder(holder: holder, answerer: answerer)
                let udp: UDPResponder
                do {
                    udp = try await UDPResponder.start(address: address.withPort(port), configuration: udpSettings, loop: loop, responder: udpResponder)
                } catch where SocketAddress.fallsBackToIPv4(from: address, after: error, remaining: addresses[(index + 1)...]) {
                    continue  // every interface where IPv6 is off: 0.0.0.0, next
                }
                port = udp.localAddress.port
                let tcpResponder = DNSQueryResponder(holder: holder, answerer: answerer)
                do {
                    let tcp = try await TCPMessageServer.start(address: address.withPort(port), configuration: configuration.tcp, loop: loop, responder: tcpResponder)
                    listeners.append(Listener(udp: udp, tcp: tcp, udpResponder: udpResponder, tcpResponder: tcpResponder))
                } catch {
                    await udp.close()
                    throw error
                }
            }
            return listeners
        } catch {
            for listener in listeners {
                await listener.udp.close()
                await listener.tcp.close()
            }
            throw error
        }
    }

    // MARK: Snapshots

    /// The snapshot queries are answered from.
    public var zone: DNSZone { holder.zone }

    /// Answers every query from `zone` from now on.
    public func update(_ zone: DNSZone) {
        holder.update(zone)
    }

    // MARK: Counters and stopping

    /// Queries by outcome and transport, and the sockets' counters.
    public func statistics() async -> DNSServerStatistics {
        var statistics = DNSServerStatistics()
        for listener in listeners {
            let responders = (listener.udpResponder, listener.tcpResponder)
            let counters = (try? await loop.submit { (responders.0.countersSnapshot, responders.1.countersSnapshot) })
                ?? (DNSQueryCounters(), DNSQueryCounters())
            statistics.add(counters.0, transport: .udp)
            statistics.add(counters.1, transport: .tcp)
            statistics.udp.add(await listener.udp.statistics())
            statistics.tcp.add(await listener.tcp.statistics())
        }
        return statistics
    }

    /// Closes every socket and connection (and the server's own loop thread).
    public func stop() async {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for listener in listeners {
            await listener.udp.close()
            await listener.tcp.close()
        }
        if ownsLoop { loop.shutdown() }
    }
}

// MARK: - Statistics

/// What a ``DNSServer`` has answered.
public struct DNSServerStatistics: Sendable, Hashable {
    /// Queries answered (or dropped) by transport.
    public var queries: [DNSTransport: Int] = [:]
    /// Queries by outcome, both transports.
    public var outcomes: [DNSReply.Outcome: Int] = [:]
    /// UDP answers cut to fit (TC set).
    public var truncated = 0
    public var udp = UDPResponderStatistics()
    public var tcp = TCPMessageServerStatistics()

    public init() {}

    mutating func add(_ counters: DNSQueryCounters, transport: DNSTransport) {
        for outcome in DNSReply.Outcome.allCases {
            let count = counters.outcomes[outcome.rawValue]
            outcomes[outcome, default: 0] += count
            queries[transport, default: 0] += count
        }
        truncated += counters.truncated
    }
}

extension UDPResponderStatistics {
    mutating func add(_ other: UDPResponderStatistics) {
        received += other.received
        sent += other.sent
        oversize += other.oversize
        sendFailures += other.sendFailures
    }
}

extension TCPMessageServerStatistics {
    mutating func add(_ other: TCPMessageServerStatistics) {
        accepted += other.accepted
        refused += other.refused
        timedOut += other.timedOut
        messages += other.messages
        open += other.open
    }
}
