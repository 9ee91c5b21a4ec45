import DiscoCore

// discod [flags] <data-dir>: parse and validate everything before touching the data directory.
let options: DiscodOptions
do {
    options = try DiscodOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    CommandLineTool.fail(error, flagSet: DiscodFlags().flagSet)
}

let logger = Logger(label: "discod", level: options.logLevel, handler: options.logFormat.handler())
logger.info("options validated", metadata: options.metadata)
logger.notice("the node runtime is not implemented yet; exiting without creating or opening the data directory")
CommandLineTool.exit(0)
