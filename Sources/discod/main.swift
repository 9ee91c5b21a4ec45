import DiscoCLI
import DiscoCore
import DiscoSystem
import Dispatch
import NodeRuntime

// discod [flags] <data-dir>: parse and check everything before touching the data directory,
// then run the node until SIGTERM or SIGINT. -validate stops after the checks.
let options: DiscodOptions
do {
    options = try DiscodOptions.parse(Array(CommandLine.arguments.dropFirst()), loader: .system)
    try StartupCheck.check(options)
} catch {
    CommandLineTool.fail(error, flagSet: DiscodFlags().flagSet)
}
if options.validateOnly {
    CommandLineTool.writeStandardOutput(StartupCheck.summary(options))
    CommandLineTool.exit(0)
}

let logger = Logger(label: "discod", level: options.logLevel, handler: options.logFormat.handler())
logger.info("starting", metadata: options.metadata)
OpenFileLimit.raise(logger: logger)

let node: Node
do {
    node = try await Node.start(options.nodeConfiguration, logger: logger)
} catch {
    CommandLineTool.writeStandardError("discod: \(error)\n")
    CommandLineTool.exit(1)
}

let signalSources = SignalHandling.install(node: node, logger: logger)
let status = await node.waitUntilStopped()
signalSources.forEach { $0.cancel() }
CommandLineTool.exit(status)
