import DiscoCore

// discoctl [flags] <command> [command flags]: the operator tool. Commands are declared with their
// flags so that help and errors work; their actions are not implemented yet.

struct Command {
    let name: String
    let summary: String
    let flagSet: FlagSet
}

func makeCommands() -> [Command] {
    func command(_ name: String, _ summary: String, arguments: String = "", declare: (inout FlagSet) -> Void = { _ in }) -> Command {
        var set = FlagSet(programName: "discoctl \(name)",
                          synopsis: "Usage: discoctl [flags] \(name) [flags]\(arguments)\n\n\(summary)")
        declare(&set)
        return Command(name: name, summary: summary, flagSet: set)
    }
    return [
        command("lookup", "Runs one discovery round and prints the peers found.") { set in
            _ = set.string("disco-mode", usage: "Discovery mode: dns, dns-srv, consul-kv or etcd-kv", typeName: "mode")
            _ = set.string("disco-config", usage: "Discovery configuration: JSON or the path of a JSON file", typeName: "json|path")
            _ = set.string("disco-key", default: "disco", usage: "Key prefix in Consul or etcd", typeName: "key")
        },
        command("leader", "Prints the current leader."),
        command("status", "Prints the node's status, including the cluster formation phase."),
        command("nodes", "Lists the cluster's nodes and their reachability.") { set in
            _ = set.bool("nonvoters", usage: "Include non-voting nodes")
        },
        command("remove", "Removes a node from the cluster.", arguments: " <node-id>"),
        command("events", "Prints membership and leadership events.") { set in
            _ = set.bool("follow", usage: "Keep printing new events")
        },
    ]
}

let commands = makeCommands()
var global = FlagSet(
    programName: "discoctl",
    synopsis: "Usage: discoctl [flags] <command> [command flags]\n\nCommands:\n"
        + commands.map { "  " + $0.name + String(repeating: " ", count: max(1, 9 - $0.name.count)) + $0.summary }.joined(separator: "\n"),
    epilogue: "Run 'discoctl <command> -h' for a command's flags.")
_ = global.custom("addr", default: PeerAddress(host: "localhost", port: 4001), defaultText: "\"localhost:4001\"",
                  typeName: "host:port", usage: "HTTP API address of a node (scheme optional)") { text throws(FlagValueError) in
    do throws(PeerAddressError) {
        return try PeerAddress(parsing: text)
    } catch {
        throw FlagValueError("\(error)")
    }
}
_ = global.duration("timeout", default: Duration.seconds(10), usage: "Timeout for each request")

let parsed: ParsedFlags
do {
    parsed = try global.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    CommandLineTool.fail(error, flagSet: global)
}
guard let name = parsed.positionals.first else {
    CommandLineTool.fail(.badArguments("missing command (one of \(commands.map(\.name).joined(separator: ", ")))"), flagSet: global)
}
guard let command = commands.first(where: { $0.name == name }) else {
    CommandLineTool.fail(.badArguments("unknown command \(name.debugDescription) (one of \(commands.map(\.name).joined(separator: ", ")))"), flagSet: global)
}
do {
    _ = try command.flagSet.parse(Array(parsed.positionals.dropFirst()))
} catch {
    CommandLineTool.fail(error, flagSet: command.flagSet)
}
CommandLineTool.writeStandardError("discoctl \(command.name): not yet implemented\n")
CommandLineTool.exit(1)
