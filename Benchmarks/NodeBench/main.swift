import DiscoCore
import DiscoSystem

// disco-bench-node: the timing and load side of `scripts/bench formation|failover|append`.
// The run scripts start and kill the processes; this tool talks HTTP to them (DiscoNet's
// HTTPClient with keep-alive) and prints one machine-readable `key=value` line per result.

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    BenchCommandLine.usageError("missing subcommand")
}
let rest = Array(arguments.dropFirst())
switch command {
case "wait-write":
    let options = WaitWriteOptions.parse(rest)
    await WaitWrite(options: options).run()
case "leader":
    let options = LeaderOptions.parse(rest)
    await LeaderLookup(options: options).run()
case "elect":
    let options = ElectOptions.parse(rest)
    await EtcdElection(options: options).run()
case "append":
    let options = AppendOptions.parse(rest)
    await AppendLoad(options: options).run()
case "-h", "-help", "--help", "help":
    CommandLineTool.writeStandardOutput(BenchCommandLine.overview)
    CommandLineTool.exit(0)
default:
    BenchCommandLine.usageError("unknown subcommand \(command.debugDescription); expected wait-write, leader, elect or append")
}
CommandLineTool.exit(0)
