import DiscoCore
import Dispatch
import NodeRuntime
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// discod [flags] <data-dir>: parse and validate everything before touching the data directory,
// then run the node until SIGTERM or SIGINT.
let options: DiscodOptions
do {
    options = try DiscodOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    CommandLineTool.fail(error, flagSet: DiscodFlags().flagSet)
}

let logger = Logger(label: "discod", level: options.logLevel, handler: options.logFormat.handler())
logger.info("starting", metadata: options.metadata)

// Signals are taken by dispatch sources, not default handlers, so shutdown runs in Swift.
signal(SIGTERM, SIG_IGN)
signal(SIGINT, SIG_IGN)
signal(SIGPIPE, SIG_IGN)

let node: Node
do {
    node = try await Node.start(NodeSettings(options: options, logger: logger))
} catch {
    CommandLineTool.writeStandardError("discod: \(error)\n")
    CommandLineTool.exit(1)
}

let signalQueue = DispatchQueue(label: "discod.signals")
var signalSources: [any DispatchSourceSignal] = []
for signalNumber in [SIGTERM, SIGINT] {
    let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
    source.setEventHandler {
        logger.info("received \(signalNumber == SIGTERM ? "SIGTERM" : "SIGINT"); shutting down gracefully")
        Task { await node.shutdown() }
        // A second signal, or a shutdown that overruns its grace period, ends the process at once.
        signalQueue.asyncAfter(deadline: .now() + .seconds(Int(node.settings.shutdownGrace.components.seconds))) {
            logger.error("shutdown did not finish within \(node.settings.shutdownGrace); exiting")
            CommandLineTool.exit(1)
        }
    }
    source.resume()
    signalSources.append(source)
}

let status = await node.waitUntilStopped()
CommandLineTool.exit(status)
