import DiscoCore
import DiscoNet
import Synchronization

// MARK: - Host names of members, resolved off the send path

extension SWIM.Shell {
    /// Addresses of members advertised by host name. A lookup runs beside the sender, never in
    /// its way: datagrams to other members keep going out while a DNS server takes its time.
    /// Datagrams to a name not resolved yet wait for its lookup (a few at most); a name resolved
    /// before is used as it was while a fresh lookup runs; a name that did not resolve is tried
    /// again after a second.
    final class ResolvedHosts: Sendable {
        /// What to do with a datagram for a host name.
        enum Route: Equatable {
            /// Send it to this address.
            case send(SocketAddress)
            /// Send it to this address, and look the name up again (the answer is old).
            case sendAndResolve(SocketAddress)
            /// Look the name up; the datagram waits for the answer.
            case resolve
            /// Nothing to do now: the datagram waits for a lookup running, or is dropped.
            case none

            var isRefresh: Bool {
                if case .sendAndResolve = self { return true }
                return false
            }
        }

        private struct Entry {
            var address: SocketAddress?
            /// When to look the name up again.
            var retryAt: ContinuousClock.Instant
            var resolving = false
            var waiting: [[UInt8]] = []
        }

        static let answerKeptFor: Duration = .seconds(30)
        static let failureKeptFor: Duration = .seconds(1)
        static let maxWaiting = 32
        static let maxEntries = 1024

        private let entries = Mutex<[PeerAddress: Entry]>([:])

        /// Decides what happens to `bytes` for `destination`.
        func route(_ bytes: [UInt8], to destination: PeerAddress, now: ContinuousClock.Instant) -> Route {
            entries.withLock { entries in
                if entries[destination] == nil, entries.count >= Self.maxEntries {
                    entries = entries.filter { $0.value.resolving }
                }
                var entry = entries[destination] ?? Entry(address: nil, retryAt: now)
                defer { entries[destination] = entry }
                if let address = entry.address {
                    guard !entry.resolving, now >= entry.retryAt else { return .send(address) }
                    entry.resolving = true
                    return .sendAndResolve(address)
                }
                if entry.resolving {
                    if entry.waiting.count < Self.maxWaiting { entry.waiting.append(bytes) }
                    return .none
                }
                guard now >= entry.retryAt else { return .none }
                entry.resolving = true
                entry.waiting = [bytes]
                return .resolve
            }
        }

        /// Records a lookup's answer (nil: it failed); returns the datagrams that waited for it.
        func resolved(_ destination: PeerAddress, as address: SocketAddress?, now: ContinuousClock.Instant) -> [[UInt8]] {
            entries.withLock { entries in
                guard var entry = entries[destination] else { return [] }
                defer { entries[destination] = entry }
                entry.resolving = false
                if let address {
                    entry.address = address
                    entry.retryAt = now + Self.answerKeptFor
                } else {
                    entry.retryAt = now + Self.failureKeptFor
                }
                let waiting = entry.waiting
                entry.waiting = []
                return address == nil ? [] : waiting
            }
        }
    }

    /// Looks `destination`'s host up and sends the datagrams that waited for it.
    static func resolve(_ destination: PeerAddress, hosts: ResolvedHosts, socket: UDPSocket, logger: Logger, failures: SendFailureLog,
                        resolveHost: @Sendable (String, UInt16) async throws -> [SocketAddress]) async {
        var address: SocketAddress?
        do {
            address = try await resolveHost(destination.host, destination.port).first
            if address == nil { logger.debug("a member's host resolved to no address", metadata: ["address": "\(destination)"]) }
        } catch {
            logger.debug("cannot resolve a member's host", metadata: ["address": "\(destination)", "error": "\(error)"])
        }
        let waiting = hosts.resolved(destination, as: address, now: .now)
        guard let address else { return }
        for bytes in waiting { await send(bytes, to: address, destination: destination, on: socket, failures: failures) }
    }

    static func send(_ bytes: [UInt8], to target: SocketAddress, destination: PeerAddress, on socket: UDPSocket,
                     failures: SendFailureLog) async {
        do {
            try await socket.send(bytes, to: target)
        } catch {
            failures.failed(to: destination, target: target, error)
        }
    }
}
