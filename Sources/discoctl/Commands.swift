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
    func notYet(_ name: String) -> @Sendable (CommandContext) async -> Int32 {
        { _ in
            CommandLineTool.writeStandardError("discoctl \(name): not available yet (the node's HTTP API comes with the node runtime)\n")
            return 1
        }
    }
    return [
        command("lookup", "Runs one discovery round and prints the peers found (and, for consul-kv and etcd-kv, the leader record).") { set in
            let flags = DiscoveryFlags(&set)
            return { context in await runLookup(context, flags) }
        },
        command("leader", "Prints the leader record kept in Consul or etcd (with -disco-mode), or the node's leader.") { set in
            let flags = DiscoveryFlags(&set)
            return { context in await runLeader(context, flags) }
        },
        command("status", "Prints the node's status, including the cluster formation phase.") { _ in notYet("status") },
        command("nodes", "Lists the cluster's nodes and their reachability.") { set in
            _ = set.bool("nonvoters", usage: "Include non-voting nodes")
            return notYet("nodes")
        },
        command("remove", "Removes a node from the cluster.", arguments: " <node-id>") { _ in notYet("remove") },
        command("events", "Prints membership and leadership events.") { set in
            _ = set.bool("follow", usage: "Keep printing new events")
            return notYet("events")
        },
    ]
}
