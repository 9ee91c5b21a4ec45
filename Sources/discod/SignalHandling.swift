import DiscoCore
import DiscoSystem
import Dispatch
import NodeRuntime
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - Signals

/// SIGTERM and SIGINT stop the node gracefully; a shutdown that overruns the node's grace
/// period ends the process with status 1. SIGHUP reloads files that may change (the gossip
/// keyring, TLS certificates and keys).
enum SignalHandling {
    /// Ignores the default actions and installs dispatch sources; keep the returned sources alive.
    static func install(node: Node, logger: Logger) -> [any DispatchSourceSignal] {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "discod.signals")
        let grace = node.settings.shutdownGrace
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hangup.setEventHandler { @Sendable in
            logger.info("received SIGHUP")
            node.reload()
        }
        hangup.resume()
        return [hangup] + [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { @Sendable in
                logger.info("received \(number == SIGTERM ? "SIGTERM" : "SIGINT"); shutting down gracefully")
                Task { await node.shutdown() }
                queue.asyncAfter(deadline: .now() + .milliseconds(Int(grace.components.seconds * 1000))) { @Sendable in
                    logger.error("shutdown did not finish within \(grace); exiting")
                    CommandLineTool.exit(1)
                }
            }
            source.resume()
            return source
        }
    }
}
