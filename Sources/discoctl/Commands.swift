import DiscoAuth
import DiscoCore
import DiscoNet

// MARK: - Commands

/// What every command gets: the node to talk to, the request timeout, credentials, its own
/// flags and the output format asked for.
struct CommandContext: Sendable {
    let node: PeerAddress
    let timeout: Duration
    let credentials: BasicCredentials?
    let flags: ParsedFlags
    let flagSet: FlagSet
    let format: OutputFormat
    let client: HTTPClient
}

struct Command: Sendable {
    let name: String
    let summary: String
    let flagSet: FlagSet
    /// `-format`/`-json`, when the command prints something other than text.
    let output: OutputFlags?
    /// False for a command that sends nothing to a node (`lookup`, `hash-password`): the
    /// credentials in the environment (`DISCO_USER`, `DISCO_PASSWORD`) are not its business, and
    /// half of a pair set there does not stop it.
    let asksNodes: Bool
    let run: @Sendable (CommandContext) async -> Int32
}

/// Discovery flags shared by `lookup` and `leader`.
struct DiscoveryFlags: Sendable {
    let mode: Flag<String>
    let config: Flag<String>
    let key: Flag<String>
    /// `nil` for `leader`, which reads only key-value stores.
    let port: Flag<UInt16>?

    init(_ set: inout FlagSet, modeUsage: String, withPort: Bool) {
        mode = set.string("disco-mode", usage: modeUsage, typeName: "mode")
        config = set.string("disco-config", usage: "Discovery configuration, as for discod: JSON or the path of a JSON file "
                            + "($VAR expanded)", typeName: "json|path")
        key = set.string("disco-key", default: "disco", usage: "Key prefix in Consul or etcd, as discod's -disco-key", typeName: "key")
        port = withPort ? set.custom("port", default: UInt16(4001), defaultText: "4001", typeName: "port",
                                     usage: "Port for the addresses dns answers if -disco-config has no \"port\"\n(discod uses its -http-addr's port)") { text throws(FlagValueError) in
            guard let value = UInt16(text), value > 0 else { throw FlagValueError("expected a port from 1 to 65535") }
            return value
        } : nil
    }
}

/// The commands, in the order `discoctl -h` lists them.
func makeCommands() -> [Command] {
    /// `usage` is the synopsis after `discoctl`; `details` the paragraph under it.
    func command(_ name: String, _ summary: String, usage: String, asksNodes: Bool = true, details: String,
                 declare: (inout FlagSet) -> (output: OutputFlags?, run: @Sendable (CommandContext) async -> Int32)) -> Command {
        var set = FlagSet(programName: "discoctl \(name)", synopsis: "Usage: \(usage)\n\n\(details)")
        let (output, run) = set.grouped("Flags") { set in declare(&set) }
        _ = GlobalFlags(&set)
        return Command(name: name, summary: summary, flagSet: set, output: output, asksNodes: asksNodes, run: run)
    }
    return [
        command("status", "This node's role, the leader, term, indexes, cluster, discovery, formation and members",
                usage: "discoctl status [flags]",
                details: "Prints the node's GET /status for people: its ID, Raft state and addresses; the leader it knows;\n"
                    + "term, commit and applied index; the cluster's name and epoch; the discovery targets and last\n"
                    + "error; how formation went; the retained events; and a table of the members with their SWIM state.") { set in
            let output = OutputFlags(&set, json: "the node's GET /status answer on one line")
            return (output, { context in await runStatus(context) })
        },
        command("nodes", "The members with their addresses, voter, leader and reachability (-nonvoters: all)",
                usage: "discoctl nodes [flags]",
                details: "Prints one row per member from the node's GET /nodes: ID, API and Raft addresses, whether it votes,\n"
                    + "whether it leads, whether this node can reach it, its SWIM state, its roles (-role: only the members\n"
                    + "performing that role, GET /nodes?role=). Only voters are listed unless\n"
                    + "-nonvoters is given (as rqlite's /nodes); how many were left out is said on standard error.") { set in
            let nonVoters = set.bool("nonvoters", usage: "Also list non-voting members (nodes started with -raft-non-voter)")
            let role = set.string("role", usage: "Only the members performing this role, e.g. dns", typeName: "role")
            let output = OutputFlags(&set, json: "one JSON array of the GET /nodes rows listed")
            return (output, { context in await runNodes(context, nonVoters: nonVoters, role: role) })
        },
        command("leader", "The leader's ID and addresses; with -disco-mode, the record in Consul or etcd",
                usage: "discoctl leader [flags]",
                details: "Prints the leader this node knows (GET /leader): its ID, API address (api_addr) and Raft address\n"
                    + "(addr). Exits 1 when the node knows no leader yet.\n"
                    + "With -disco-mode consul-kv or etcd-kv it asks no node: it reads the leader record discod keeps in\n"
                    + "Consul or etcd, with the same -disco-config and -disco-key as discod.") { set in
            let discovery = DiscoveryFlags(&set, modeUsage: "Read the leader record from the key-value store instead of asking "
                                           + "a node: consul-kv or etcd-kv", withPort: false)
            let output = OutputFlags(&set, json: "the leader object {\"id\",\"api_addr\",\"addr\"}, plus \"version\" for a record")
            return (output, { context in
                if context.flags[discovery.mode].isEmpty { return await runNodeLeader(context) }
                return await runLeader(context, discovery)
            })
        },
        command("events", "Prints the replicated event log (-follow waits for more); 'events append' adds one",
                usage: "discoctl events [flags]\n       discoctl events append '<json>' [flags]",
                details: "Prints the events after -since, oldest first, one per line: #SEQ TIME index=RAFT-INDEX DATA.\n"
                    + "With -follow it keeps waiting for new events and prints them as they come, until interrupted\n"
                    + "(or until -limit events were printed). 'discoctl events append' adds an event (see append -h).\n"
                    + "-role dns prints only the events for dns (those whose \"roles\" name it). With -consumer NAME as well,\n"
                    + "it starts after NAME's cursor for the role (kept in the cluster) and moves the cursor past what it\n"
                    + "printed, so a consumer started again resumes where it stopped: each event at least once.") { set in
            let flags = EventsFlags(&set)
            return (flags.output, { context in await runEvents(context, flags) })
        },
        command("append", "Appends one JSON value to the event log (the same as 'events append')",
                usage: "discoctl append '<json>' [flags]",
                details: "Appends one JSON value (quote it for the shell) to the replicated event log and prints its\n"
                    + "sequence number once the cluster committed it. A follower sends it on to the leader.\n"
                    + "Numbers must be I-JSON (RFC 7493): finite, and integers within ±9007199254740991; send others\n"
                    + "as strings. Write -- before a value that starts with '-', e.g. discoctl append -- -5") { set in
            let output = OutputFlags(&set, json: "the node's answer {\"seq\",\"index\"}")
            return (output, { context in await runAppend(context) })
        },
        command("remove", "Removes a node from the cluster (the request goes on to the leader)",
                usage: "discoctl remove <node-id> [flags]",
                details: "Asks the cluster to remove the member with this ID from Raft's configuration and the member\n"
                    + "list. Any node may be asked; a follower redirects the request to the leader. Stop the removed\n"
                    + "node's discod as well.") { set in
            let output = OutputFlags(&set, json: "the leader's answer, e.g. {\"removed\":\"3\"}")
            return (output, { context in await runRemove(context) })
        },
        command("transfer-leadership", "Moves leadership to the named voter (or to any voter), with either engine",
                usage: "discoctl transfer-leadership [<node-id>] [flags]",
                details: "Asks the leader (a follower redirects the request) to hand leadership to the voter with this ID\n"
                    + "(POST /leader/transfer, permission remove with -auth) and prints the new leader once it leads.\n"
                    + "Without an ID the next voter in line takes over. A learner, a node that is not live or not a\n"
                    + "member is refused with the reason.") { set in
            let output = OutputFlags(&set, json: "the leader's answer {\"leader\":{\"id\",\"api_addr\",\"addr\"},\"previous\"}")
            return (output, { context in await runTransferLeadership(context) })
        },
        command("keys", "Adds, lists or revokes the API keys disco-sidecar checks (app_id / app_key)",
                usage: "discoctl keys add <app_id> [-app-key KEY] | keys list | keys revoke <app_id> [flags]",
                details: "Manages the API keys kept in the cluster's replicated state, through any disco-sidecar node's API\n"
                    + "(permission keys-admin with -auth). add prints the new key once (the cluster keeps only its\n"
                    + "salted hash); a revoked key is refused with 403 by every sidecar.") { set in
            let key = set.string("app-key", usage: "The app_key to store (16 to 256 bytes) instead of a generated one", typeName: "key")
            let output = OutputFlags(&set, json: "the node's answer: {\"app_id\",\"app_key\"}, {\"keys\"} or {\"app_id\",\"revoked\"}")
            return (output, { context in await runKeys(context, key: key) })
        },
        command("hot", "Shows the hot/cold group (hot status) or moves it to another replica (hot move -to ID)",
                usage: "discoctl hot status [flags] | hot move -to ID [flags]",
                details: "Asks a disco-sidecar -hot-cold node. status prints GET /hot: which replica of the group is hot and\n"
                    + "its fencing token, as that node has applied them, and the node's own state. move asks for a\n"
                    + "planned switch-over (POST /hot/move?to=ID, permission hot-admin with -auth): the hot replica\n"
                    + "stops and releases the lease, then the leader grants it to ID if ID is eligible.") { set in
            let to = set.string("to", usage: "hot move: the node ID of the replica to make hot", typeName: "ID")
            let output = OutputFlags(&set, json: "the node's answer: GET /hot, or {\"group\",\"moving_to\"}")
            return (output, { context in await runHot(context, to: to) })
        },
        command("lookup", "Runs one discovery round (-disco-mode, -disco-config) and prints the peers found",
                usage: "discoctl lookup -disco-mode MODE [-disco-config JSON|PATH] [flags]", asksNodes: false,
                details: "Asks DNS, DNS SRV, Consul or etcd what discod would ask with the same -disco-mode and\n"
                    + "-disco-config, and prints one HTTP API address per line (plus, for consul-kv and etcd-kv, the\n"
                    + "leader record). Asks no node. Exits 0 when peers were found, 1 when none were.") { set in
            let discovery = DiscoveryFlags(&set, modeUsage: "Discovery mode: dns, dns-srv, consul-kv or etcd-kv", withPort: true)
            let output = OutputFlags(&set, json: "{\"mode\",\"source\",\"addresses\"}, plus \"leader\" for consul-kv and etcd-kv")
            return (output, { context in await runLookup(context, discovery) })
        },
        command("hash-password", "Reads a password and prints a salted hash for the -auth file's \"password\" field",
                usage: "discoctl hash-password [flags] < password-file", asksNodes: false,
                details: "Reads one password from standard input (prompting without echo on a terminal), hashes it\n"
                    + "with the system's libcrypto (PBKDF2-HMAC-SHA256 or scrypt, random salt), checks the hash by\n"
                    + "verifying the password against it, and prints it. Asks no node.") { set in
            let flags = HashPasswordFlags(&set)
            return (nil, { context in await runHashPassword(context, flags) })
        },
    ]
}
