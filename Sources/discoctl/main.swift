import DiscoCLI
import DiscoCore
import DiscoSystem
import DiscoNet

// discoctl <command> [flags] [arguments]: the operator tool. Global flags (-addr, -timeout,
// -user, -password, -ca-cert, -cert, -key, -insecure) may stand before or after the command; a command's own flags come after it,
// before or between its arguments.

let commands = makeCommands()
let commandNames = commands.map(\.name).joined(separator: ", ")
var global = FlagSet(
    programName: "discoctl",
    synopsis: """
        Usage: discoctl <command> [flags] [arguments]

        Asks a discod node (-addr) about its cluster, reads and appends events, removes nodes, and runs
        discovery lookups. Global flags go before or after the command: these two are the same:
          discoctl status -addr 127.0.0.1:4001
          discoctl -addr 127.0.0.1:4001 status

        Commands:

        """ + commands.map { command in
            // Summaries start in column 12; a longer name stands on a line of its own above its summary.
            let name = "  " + command.name
            return name.count < 11 ? name + String(repeating: " ", count: 11 - name.count) + command.summary
                : name + "\n" + String(repeating: " ", count: 11) + command.summary
        }
        .joined(separator: "\n"),
    epilogue: "Run 'discoctl <command> -h' or 'discoctl help <command>' for a command's own flags.\n"
        + "Exit status: 0 done, 1 the node or lookup failed (the reason is on standard error), 2 bad usage.")
let globalFlags = GlobalFlags(&global)

// MARK: Parsing

let before: ParsedFlags
do {
    before = try global.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    if error.code == .unknownFlag, let flag = error.flag, commands.contains(where: { $0.flagSet.declares(flag) }) {
        // `discoctl -json status`: a command's own flag before the command.
        CommandLineTool.fail(.badArguments("-\(flag) is a flag of the command, not a global flag: write it after the command "
            + "(discoctl <command> -\(flag) …)"), flagSet: global)
    }
    CommandLineTool.fail(error, flagSet: global)
}
guard let name = before.positionals.first else {
    CommandLineTool.fail(.badArguments("missing command (one of \(commandNames))"), flagSet: global)
}
// `discoctl help [command]`, as kubectl and etcdctl have it.
if name == "help" {
    let topic = before.positionals.dropFirst().first
    guard let topic else { CommandLineTool.fail(FlagError(code: .helpRequested, flag: nil, message: "help"), flagSet: global) }
    guard let command = commands.first(where: { $0.name == topic }) else {
        CommandLineTool.fail(.badArguments("no help on \(topic.debugDescription): not a command (one of \(commandNames))"), flagSet: global)
    }
    CommandLineTool.fail(FlagError(code: .helpRequested, flag: nil, message: "help"), flagSet: command.flagSet)
}
guard var command = commands.first(where: { $0.name == name }) else {
    var message = "unknown command \(name.debugDescription) (one of \(commandNames))"
    if let suggestion = EditDistance.suggestion(for: name, among: commands.map(\.name)) {
        message += "; did you mean \(suggestion)?"
    }
    CommandLineTool.fail(.badArguments(message), flagSet: global)
}
// `events append …` is the `append` command.
var commandArguments = Array(before.positionals.dropFirst())
if command.name == "events", commandArguments.first == "append", let append = commands.first(where: { $0.name == "append" }) {
    command = append
    commandArguments.removeFirst()
}
let after: ParsedFlags
let options: GlobalOptions
let format: OutputFormat
let client: HTTPClient
do {
    after = try command.flagSet.parse(commandArguments, interspersed: true)
    // A command that asks no node takes no credentials from the environment (given flags still count).
    options = try globalFlags.resolve(before: before, after: after,
                                      environment: command.asksNodes ? ProcessEnvironment.value : { _ in nil })
    format = try command.output?.resolve(after) ?? .text
    client = try ClientTLSOptions.makeClient(options.tls, label: "discoctl")
} catch {
    CommandLineTool.fail(error, flagSet: command.flagSet)
}

// MARK: Running

let context = CommandContext(node: options.node, timeout: options.timeout, credentials: options.credentials, flags: after,
                             flagSet: command.flagSet, format: format, client: client)
var status = await command.run(context)
await client.shutdown()
if status == 0, let problem = standardOutputProblem() {
    status = fail(command.name, problem).code
}
CommandLineTool.exit(status)
