import DiscoCore
import DiscoLifecycle
import SidecarProxy

// MARK: - The proxy in the node's service group

/// The proxy as a service of the sidecar's group, started after the node and stopped before it:
/// on SIGTERM (a graceful shutdown) it stops accepting, lets in-flight requests finish within
/// `-proxy-drain-timeout`, then closes what is left; only then does the node leave.
struct ProxyService: Service {
    let proxy: SidecarProxyServer
    let drain: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
            logger.info("draining the proxy, then leaving the cluster", metadata: ["drain_timeout": .string(GoDuration.format(drain))])
            await proxy.drain(within: drain)
            logger.info("proxy drained; stopping the node")
        } catch {
            logger.info("proxy stopping without draining: \(error)")
        }
        await proxy.shutdown()
    }
}
