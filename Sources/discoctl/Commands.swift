import DiscoCore
import DiscoNet

// MARK: - Commands

/// What every command gets: the node to talk to, the request timeout and its own flags.
struct CommandContext: Sendable {
    let node: PeerAddress
    let timeout: Duration
    let flags: ParsedFlags
    let flagSet: FlagSet
    let client: HTTPClient
}

struct Command: Sendable {
    let name: String
    let summary: String
    let flagSet: FlagSet
    let run: @Sendable (CommandContext) async -> Int32
}

/// Discovery flags shared by `lookup` and `leader`.
struct DiscoveryFlags: Sendable {
    let mode: Flag<String>
    let config: Flag<String>
    let key: Flag<String>
    let json: Flag<Bool>
    let port: Flag<UInt16>

    init(_ set: inout FlagSet) {
        mode = set.string("disco-mode", usage: "Discovery mode: dns, dns-srv, consul-kv or etcd-kv", typeName: "mode")
        config = set.string("disco-config", usage: "Discovery configuration: JSON or the path of a JSON file ($VAR expanded)",
                            typeName: "json|path")
        key = set.string("disco-key", default: "disco", usage: "Key prefix in Consul or etcd", typeName: "key")
        json = set.bool("json", usage: "Print JSON instead of lines")
        port = set.custom("port", default: UInt16(4001), defaultText: "4001", typeName: "port",
                          usage: "Port for dns answers when disco-config has no port") { text throws(FlagValueError) in
            guard let value = UInt16(text), value > 0 else { throw FlagValueError("expected a port from 1 to 65535") }
            return value
        }
    }
}

func makeCommands() -> [Command] {
    func command(_ name: String, _ summary: String, arguments: String = "",
                 declare: (inout FlagSet) -> (@Sendable (CommandContext) async -> Int32)) -> Command {
        var set = FlagSet(programName: "discoctl \(name)",
                          synopsis: "Usage: discoctl [flags] \(name) [flags]\(arguments)\n\n\(summary)")
        let run = declare(&set)
        return Command(name: name, summary: summary, flagSet: set, run: run)
    }
    return [
        command("lookup", "Runs one discovery round and prints the peers found (and, for consul-kv and etcd-kv, the leader record).") { set in
            let flags = DiscoveryFlags(&set)
            return { context in await runLookup(context, flags) }
        },
        command("leader", "Prints the node's view of the leader (GET /leader), or with -disco-mode the leader record kept in Consul or etcd.") { set in
            let flags = DiscoveryFlags(&set)
            let format = OutputFormat.flag(&set, json: "the leader object; the same as -json")
            return { context in
                if context.flags[flags.mode].isEmpty {
                    let json = context.flags[flags.json] || context.flags[format] == .json
                    return await runNodeLeader(context, format: json ? .json : .text)
                }
                return await runLeader(context, flags, json: context.flags[flags.json] || context.flags[format] == .json)
            }
        },
        command("status", "Prints the node's status: role, leader, term, indexes, cluster, members, discovery and formation.") { set in
            let format = OutputFormat.flag(&set, json: "the node's GET /status answer as it is")
            return { context in await runStatus(context, format: format) }
        },
        command("nodes", "Lists the cluster's voting nodes with their addresses, leadership and reachability.") { set in
            let nonVoters = set.bool("nonvoters", usage: "Include non-voting nodes (read-only members); without it only voters are listed")
            let format = OutputFormat.flag(&set, json: "a JSON array of the node's GET /nodes rows, filtered the same way")
            return { context in await runNodes(context, format: format, nonVoters: nonVoters) }
        },
        command("remove", "Removes a node from the cluster (asks the leader, following redirects).", arguments: " <node-id>") { set in
            let format = OutputFormat.flag(&set, json: "the leader's answer")
            return { context in await runRemove(context, format: format) }
        },
        command("events", "Prints the cluster's event log; 'events append <json>' adds an event.",
                arguments: "\n       discoctl [flags] events append [flags] '<json>'") { set in
            let flags = EventsFlags(&set)
            return { context in await runEvents(context, flags) }
        },
        command("append", "Appends one JSON value to the cluster's event log (the same as 'events append').", arguments: " '<json>'") { set in
            let format = OutputFormat.flag(&set, json: "the node's answer: seq and raft index")
            return { context in await runAppend(context, format: format) }
        },
        command("hash-password", "Reads a password from standard input and prints a salted hash for the -auth file's \"password\" field.",
                arguments: " < password-file") { set in
            let flags = HashPasswordFlags(&set)
            return { context in await runHashPassword(context, flags) }
        },
    ]
}
