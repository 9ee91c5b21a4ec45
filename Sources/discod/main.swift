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

let logger = Logger(label: "discod", level: options.logLevel, handler: options.logFormat.handler())
// Certificates and keys are read and checked before the data directory is touched: a file
// that cannot be used is a configuration error (exit 2) that names the flag and the file.
var settings = NodeSettings(options: options, logger: logger)
do {
    settings.tls = try NodeTLS.load(options, logger: logger)
    try NodeTLS.checkDiscoveryFiles(options)
} catch let error as NodeTLSError {
    CommandLineTool.writeStandardError("discod: \(error)\n")
    CommandLineTool.exit(2)
} catch {
    CommandLineTool.writeStandardError("discod: invalid value for flag -disco-config: \(error)\n")
    CommandLineTool.exit(2)
}
if options.validateOnly {
    CommandLineTool.writeStandardOutput(StartupCheck.summary(options))
    CommandLineTool.exit(0)
}
logger.info("starting", metadata: options.metadata)
OpenFileLimit.raise(logger: logger)

let node: Node
do {
    node = try await Node.start(settings)
} catch {
    CommandLineTool.writeStandardError("discod: \(error)\n")
    CommandLineTool.exit(1)
}

let signalSources = SignalHandling.install(node: node, logger: logger)
let status = await node.waitUntilStopped()
signalSources.forEach { $0.cancel() }
CommandLineTool.exit(status)
