import DiscoCore
import DiscoSystem
import DiscoNet

// discoctl [flags] <command> [command flags]: the operator tool.

let commands = makeCommands()
var global = FlagSet(
    programName: "discoctl",
    synopsis: "Usage: discoctl [flags] <command> [command flags]\n\nCommands:\n"
        + commands.map { "  " + $0.name + String(repeating: " ", count: max(1, 9 - $0.name.count)) + $0.summary }.joined(separator: "\n"),
    epilogue: "Run 'discoctl <command> -h' for a command's flags.")
let addressFlag = global.custom(
    "addr", default: PeerAddress(host: "localhost", port: 4001), defaultText: "\"localhost:4001\"",
    typeName: "host:port", usage: "HTTP API address of a node (scheme optional)"
) { text throws(FlagValueError) in
    do throws(PeerAddressError) {
        return try PeerAddress(parsing: text)
    } catch {
        throw FlagValueError("\(error)")
    }
}
let timeoutFlag = global.duration("timeout", default: Duration.seconds(10), usage: "Timeout for each request")

let parsed: ParsedFlags
do {
    parsed = try global.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    CommandLineTool.fail(error, flagSet: global)
}
guard let name = parsed.positionals.first else {
    CommandLineTool.fail(.badArguments("missing command (one of \(commands.map(\.name).joined(separator: ", ")))"), flagSet: global)
}
guard var command = commands.first(where: { $0.name == name }) else {
    CommandLineTool.fail(.badArguments("unknown command \(name.debugDescription) (one of \(commands.map(\.name).joined(separator: ", ")))"), flagSet: global)
}
// `events append …` is the `append` command.
var commandArguments = Array(parsed.positionals.dropFirst())
if command.name == "events", commandArguments.first == "append", let append = commands.first(where: { $0.name == "append" }) {
    command = append
    commandArguments.removeFirst()
}
let commandFlags: ParsedFlags
do {
    commandFlags = try command.flagSet.parse(commandArguments)
} catch {
    CommandLineTool.fail(error, flagSet: command.flagSet)
}
let client = HTTPClient()
let context = CommandContext(node: parsed[addressFlag], timeout: parsed[timeoutFlag], flags: commandFlags,
                             flagSet: command.flagSet, client: client)
let status = await command.run(context)
await client.shutdown()
CommandLineTool.exit(status)
