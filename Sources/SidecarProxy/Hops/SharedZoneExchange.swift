import DiscoCore
import DiscoNet
import RateLimitCore
import Sidecar
import Synchronization

// MARK: - Shared zones between sidecars

/// Carries shared rate-limit zones' counts between the cluster's sidecars, proxy to proxy:
/// every exchange interval ``run()`` posts what this sidecar charged to every other member's
/// announced proxy at ``path`` (over HTTPS when it announced HTTPS), with a ``HopProof`` that
/// covers the body and is made for that member (its node ID); ``receive(_:)`` answers those
/// posts, charging the counts here only when the proof verifies as made for this node and names
/// a current member other than this node (a post captured on its way to another sidecar does
/// not verify here). Memory is bounded by the core's `maximumPendingKeys`; a post that fails is
/// not retried (its counts add to the error bound, as a lost message does).
final class SharedZoneExchange: Sendable {
    static let path = "/.sidecar/ratelimit/counts"
    /// Bytes of posted counts read at once, over all posts: the MAC covers the body, so a post
    /// with a forged proof is only refused once read, and without this bound many of them could
    /// make the sidecar buffer ``SharedCountsMessage/maximumBytes`` each.
    static let receivingBudget = 2 * SharedCountsMessage.maximumBytes

    /// Bytes reserved by the posts being read now.
    private let receiving = Mutex(0)

    private let rateLimit: RateLimitMiddleware
    private let zoneNames: [String]
    private let sharedZones: [String: Int]
    private let authenticator: HopAuthenticator
    private let nodeID: String
    private let writer: any WriterResolver
    private let client: HTTPClient
    private let metrics: ProxyMetrics
    private let logger: Logger
    private let timeout: Duration

    init(rateLimit: RateLimitMiddleware, configuration: RateLimitConfiguration, authenticator: HopAuthenticator, nodeID: String,
         writer: any WriterResolver, client: HTTPClient, metrics: ProxyMetrics, logger: Logger) {
        self.rateLimit = rateLimit
        zoneNames = configuration.zones.map(\.name)
        sharedZones = Dictionary(uniqueKeysWithValues: configuration.sharedZones.map { (configuration.zones[$0].name, $0) })
        self.authenticator = authenticator
        self.nodeID = nodeID
        self.writer = writer
        self.client = client
        self.metrics = metrics
        self.logger = logger
        // A post may take at most a few intervals; later counts would be stale anyway.
        timeout = max(.milliseconds(500), .milliseconds(configuration.shareIntervalMilliseconds * 5))
    }

    // MARK: Sending

    /// Ticks the limiter at its schedule and sends each interval's counts, until cancelled. A
    /// slow peer does not hold up the schedule: each interval's posts run beside the next ones
    /// (each bounded by the timeout), owned by this task.
    func run() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let (counts, next, dropped) = rateLimit.tick()
                metrics.sharedDroppedRequests(dropped)
                if let counts { group.addTask { await self.send(counts) } }
                do { try await Task.sleep(for: next) } catch { break }
            }
            group.cancelAll()
        }
    }

    private func send(_ counts: RateLimitCounts) async {
        // In posts a receiver reads (long keys can make one interval's counts larger than that),
        // one after the other to each peer.
        let bodies = SharedCountsMessage.encode(counts, zoneNames: zoneNames, maximumBytes: SharedCountsMessage.maximumBytes)
        let peers = writer.sidecarProxies().filter { $0.key != nodeID }
        metrics.sharedPeers(peers.count)
        await withDiscardingTaskGroup { group in
            for (id, announcement) in peers {
                group.addTask {
                    for body in bodies { await self.post(body, to: id, at: announcement) }
                }
            }
        }
    }

    private func post(_ body: [UInt8], to id: String, at announcement: ProxyAnnouncement) async {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: RoutingDecision.hopHeader, value: nodeID)
        headers.add(name: HopProof.header, value: authenticator.proof(method: "POST", target: Self.path, receiver: id, body: body))
        let request = HTTPClientRequest(method: "POST", url: "\(announcement.url)\(Self.path)", headers: headers, body: body)
        do {
            let response = try await client.send(request, timeout: timeout)
            if response.status == 204 {
                metrics.exchange("sent", "ok")
            } else {
                metrics.exchange("sent", "refused")
                logger.warning("sidecar \(id) refused shared rate-limit counts: \(response.status) \(response.bodyText.prefix(200))")
            }
        } catch {
            metrics.exchange("sent", "failed")
            logger.debug("shared rate-limit counts to sidecar \(id) at \(announcement) failed: \(error)")
        }
    }

    // MARK: Receiving

    /// Answers a post of counts: 204 when charged, 403 for a proof that does not verify or a
    /// sender that is not a member, 400 for a body that is not counts.
    func receive(_ request: HTTPStreamingRequest) async -> HTTPResponse {
        // Cheap checks before the body is read, so a client without a proof cannot make this
        // sidecar buffer anything.
        if case .failure(let problem) = HopProof.parse(request.headers[HopProof.header] ?? "") {
            metrics.exchange("received", request.headers[HopProof.header] == nil ? "missing" : "malformed")
            return ProxyErrorResponse.make(403, "shared rate-limit counts refused: \(problem.message)")
        }
        guard let length = request.body.declaredLength else {
            metrics.exchange("received", "malformed")
            return ProxyErrorResponse.make(411, "shared rate-limit counts need a Content-Length")
        }
        if length > SharedCountsMessage.maximumBytes {
            metrics.exchange("received", "malformed")
            return ProxyErrorResponse.make(413, "shared rate-limit counts are limited to \(SharedCountsMessage.maximumBytes) bytes")
        }
        guard reserve(length) else {
            metrics.exchange("received", "busy")
            var busy = ProxyErrorResponse.make(503, "shared rate-limit counts refused: \(Self.receivingBudget) bytes of counts are being read already")
            busy.headers.add(name: "Retry-After", value: "1")
            return busy
        }
        defer { release(length) }
        let body: [UInt8]
        do {
            body = try await request.body.collect(upTo: length)
        } catch {
            metrics.exchange("received", "malformed")
            return ProxyErrorResponse.make(400, "the counts could not be read: \(error)")
        }
        let sender: String
        switch authenticator.verify(request.headers[HopProof.header], method: request.method, target: request.target, body: body) {
        case .proven(let node): sender = node
        case .refused(let label, let reason):
            metrics.exchange("received", label)
            return ProxyErrorResponse.make(403, "shared rate-limit counts refused: \(reason)")
        }
        guard sender != nodeID, writer.sidecarProxies()[sender] != nil else {
            metrics.exchange("received", "not_member")
            return ProxyErrorResponse.make(403, "shared rate-limit counts refused: \(sender.debugDescription) is not another member's sidecar")
        }
        switch SharedCountsMessage.decode(body, sharedZones: sharedZones) {
        case .success(let decoded):
            rateLimit.receive(decoded.counts)
            metrics.exchange("received", "ok")
            return HTTPResponse(status: 204, headers: HTTPHeaders(), bytes: [])
        case .failure(let problem):
            metrics.exchange("received", "malformed")
            return ProxyErrorResponse.make(400, "shared rate-limit counts: \(problem.message)")
        }
    }

    /// Reserves `bytes` of the receiving budget; false when they would exceed it.
    private func reserve(_ bytes: Int) -> Bool {
        receiving.withLock { reserved in
            guard reserved + bytes <= Self.receivingBudget else { return false }
            reserved += bytes
            return true
        }
    }

    private func release(_ bytes: Int) { receiving.withLock { $0 -= bytes } }
}
