import DiscoCore
import DiscoSystem
import Dispatch
import NodeRuntime
import SidecarProxy
import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - Signals

/// SIGTERM and SIGINT: the proxy stops accepting and lets in-flight requests finish within
/// `-proxy-drain-timeout`, then the node leaves gracefully; a stop that overruns the drain
/// timeout plus the node's grace period ends the process with status 1. SIGHUP reloads the
/// node's files (gossip keyring, certificates).
enum SidecarSignals {
    /// Installs dispatch sources; keep the returned sources alive. `stopping` is the task that
    /// drains and stops; it is created once, by the first signal, and awaited by main.
    static func install(node: Node, proxy: SidecarProxyServer, drain: Duration, logger: Logger,
                        stopping: StopTask) -> [any DispatchSourceSignal] {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "disco-sidecar.signals")
        let limit = drain + node.settings.shutdownGrace
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hangup.setEventHandler { @Sendable in
            logger.info("received SIGHUP")
            node.reload()
        }
        hangup.resume()
        return [hangup] + [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { @Sendable in
                logger.info("received \(number == SIGTERM ? "SIGTERM" : "SIGINT"); draining the proxy, then leaving the cluster")
                stopping.startOnce {
                    await proxy.drain(within: drain)
                    logger.info("proxy drained; stopping the node")
                    await node.shutdown()
                }
                queue.asyncAfter(deadline: .now() + .milliseconds(Int(limit.components.seconds * 1000))) { @Sendable in
                    logger.error("shutdown did not finish within \(limit); exiting")
                    CommandLineTool.exit(1)
                }
            }
            source.resume()
            return source
        }
    }
}

/// The one task that stops the sidecar, started by the first signal and awaited by main.
final class StopTask: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    func startOnce(_ work: @escaping @Sendable () async -> Void) {
        task.withLock { task in
            if task == nil { task = Task { await work() } }
        }
    }

    /// Waits for the stop, if one was started.
    func wait() async {
        await task.withLock { $0 }?.value
    }
}
