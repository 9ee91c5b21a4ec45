import DiscoCLI

// discod [flags] <data-dir>: parse and check everything before touching the data directory,
// then run the node until SIGTERM or SIGINT. -validate stops after the checks.
let command = NodeCommand()
let (options, _) = command.parse(Array(CommandLine.arguments.dropFirst()))
await command.run(options)
