import DiscoCore
import DiscoNet
import Synchronization

// MARK: - FencedHTTPStore

/// The resource a hot/cold group protects, as real HTTP services: one shared store, and one small
/// service per replica (each the upstream of one sidecar) that writes into it. Every write must
/// carry `Disco-Fencing-Token`; the store keeps the highest token it accepted and refuses a write
/// with a lower one (409), as an application checking the fencing header would. Reads answer
/// with the replica's name and the `Disco-Hot-Cold-State` header they came with.
///
/// Every write that arrives is logged in arrival order, accepted or not, so a test can check what
/// the store saw: ``violations`` lists every way the writes break "one writer at a time".
///
/// A write whose body starts with `slow` stands for a slow application: it is decided only
/// ``slowWriteDelay`` after it arrived (``arrived`` lists it at once).
public final class FencedHTTPStore: Sendable {
    /// One write as the store saw it.
    public struct Write: Hashable, Sendable {
        /// The replica whose service received it.
        public var replica: String
        /// Its `Disco-Fencing-Token` (nil when it had none: refused with 400).
        public var token: UInt64?
        public var body: String
        public var accepted: Bool
        /// When the store decided it.
        public var at = ContinuousClock.now
    }

    private struct State {
        var backend = FencedBackend()
        var log: [Write] = []
        var arrived: [String] = []
    }

    private let state = Mutex(State())
    private let servers = Mutex<[HTTPServer]>([])
    /// How long a write whose body starts with `slow` takes before the store decides it.
    public let slowWriteDelay: Duration

    public init(slowWriteDelay: Duration = .seconds(2)) {
        self.slowWriteDelay = slowWriteDelay
    }

    /// Starts the service of `replica` on `host` (default 127.0.0.1) at a port the OS picks (its
    /// address is the server's `localAddress`).
    public func startService(replica: String, host: String = "127.0.0.1") async throws -> HTTPServer {
        let server = try await HTTPServer.start(configuration: HTTPServerConfiguration(host: host, port: 0)) { request in
            await self.handle(request, replica: replica)
        }
        servers.withLock { $0.append(server) }
        return server
    }

    /// Stops every service started.
    public func stop() async {
        for server in servers.withLock({ $0 }) { await server.shutdown(gracePeriod: .seconds(1)) }
    }

    private func handle(_ request: HTTPRequest, replica: String) async -> HTTPResponse {
        if ["GET", "HEAD"].contains(request.method) {
            let state = request.headers["Disco-Hot-Cold-State"] ?? "none"
            return .text("\(replica) read state=\(state)")
        }
        let body = String(decoding: request.body, as: UTF8.self)
        state.withLock { $0.arrived.append(body) }
        if body.hasPrefix("slow") { try? await Task.sleep(for: slowWriteDelay) }
        guard let text = request.headers["Disco-Fencing-Token"], let token = UInt64(text) else {
            state.withLock { $0.log.append(Write(replica: replica, token: nil, body: body, accepted: false)) }
            return .text("no Disco-Fencing-Token on a write", status: 400)
        }
        let (accepted, highest) = state.withLock { state in
            let accepted = state.backend.write(token: token)
            state.log.append(Write(replica: replica, token: token, body: body, accepted: accepted))
            return (accepted, state.backend.highest)
        }
        guard accepted else { return .text("token \(token) is below the highest seen, \(highest)", status: 409) }
        return .text("\(replica) accepted token=\(token)")
    }

    // MARK: What the store saw

    /// The bodies of the writes that reached a service, in arrival order (a slow one before it
    /// is decided).
    public var arrived: [String] { state.withLock { $0.arrived } }

    /// Every write, in the order the store decided them.
    public var writes: [Write] { state.withLock { $0.log } }

    /// The writes accepted, in order.
    public var accepted: [Write] { writes.filter(\.accepted) }

    /// The highest token accepted (0: none).
    public var highestToken: UInt64 { state.withLock { $0.backend.highest } }

    /// Everything that breaks "one writer at a time" in what the store saw: an accepted write
    /// without a token or with a lower token than one before it, a token used by two replicas, and
    /// any write that reached a service without a token. Empty when all is well.
    public var violations: [String] {
        var problems: [String] = []
        var highest: UInt64 = 0
        var writerOf: [UInt64: String] = [:]
        for (index, write) in writes.enumerated() {
            guard let token = write.token else {
                problems.append("write #\(index) \(write.body.debugDescription) reached \(write.replica) without a token")
                continue
            }
            guard write.accepted else { continue }
            if token < highest { problems.append("write #\(index) accepted with token \(token) after token \(highest)") }
            highest = max(highest, token)
            if let other = writerOf[token], other != write.replica {
                problems.append("token \(token) was used by both \(other) and \(write.replica)")
            }
            writerOf[token] = write.replica
        }
        return problems
    }
}
