import DiscoCore
import DiscoSystem

// MARK: - status

/// `discoctl status`: the node's `GET /status` as a summary, or its JSON on one line.
func runStatus(_ context: CommandContext) async -> Int32 {
    if let extra = context.flags.positionals.first { return usageError(context, "unexpected argument \(extra.debugDescription)") }
    switch await NodeAPI(context).getJSON("/status", command: "status") {
    case .success(let (status, _)):
        printLine(context.format == .json ? status.encoded() : statusSummary(status))
        return 0
    case .failure(let exit):
        return exit.code
    }
}

/// The readable form of `GET /status`.
func statusSummary(_ status: JSONValue) -> String {
    var lines: [(String, String)] = []
    let node = status["node"]
    let role = node?["voter"]?.boolValue == false ? "non-voter" : "voter"
    lines.append(("node", "\(cell(node?["id"])) (\(cell(node?["state"])), \(role)) api \(cell(node?["api_addr"])) raft \(cell(node?["addr"]))"
        + (node?["version"]?.stringValue.map { ", version \($0)" } ?? "")))
    if let leader = status["leader"], !leader.isNull {
        lines.append(("leader", "\(cell(leader["id"])) api \(cell(leader["api_addr"])) raft \(cell(leader["addr"]))"))
    } else {
        lines.append(("leader", "none known"))
    }
    if let roles = node?["roles"]?.arrayValue, !roles.isEmpty {
        var text = roles.map(\.cell).joined(separator: ", ")
        if let ready = status["roles"]?.objectValue, !ready.isEmpty { text += " (running: \(ready.map(\.key).joined(separator: ", ")))" }
        lines.append(("roles", text))
    }
    lines.append(("term", cell(status["term"])))
    lines.append(("commit", "\(cell(status["commit_index"])) (applied \(cell(status["applied_index"])))"))
    let cluster = status["cluster"]
    let epoch = cluster?["epoch"].flatMap { $0.isNull ? nil : $0.cell }
    lines.append(("cluster", "\(cell(cluster?["name"])), " + (epoch.map { "epoch \($0)" } ?? "not initialized yet")))
    let discovery = status["discovery"]
    let targets = discovery?["targets"]?.arrayValue?.map(\.cell) ?? []
    var discoveryText = cell(discovery?["mode"])
    if !targets.isEmpty { discoveryText += " " + targets.joined(separator: ", ") }
    if let error = discovery?["last_error"]?.stringValue { discoveryText += "; last error: \(error)" }
    lines.append(("discovery", discoveryText))
    let bootstrap = status["bootstrap"]
    var bootstrapText = cell(bootstrap?["state"])
    var facts: [String] = []
    if let expect = bootstrap?["expect"]?.numberValue, expect.text != "0" { facts.append("expect \(expect)") }
    if let rounds = bootstrap?["rounds"]?.numberValue { facts.append("\(rounds) round\(rounds.text == "1" ? "" : "s")") }
    if !facts.isEmpty { bootstrapText += " (\(facts.joined(separator: ", ")))" }
    if let detail = bootstrap?["detail"]?.stringValue { bootstrapText += ": \(detail)" }
    lines.append(("bootstrap", bootstrapText))
    if let events = status["events"], let last = events["last_seq"]?.numberValue {
        let first = events["first_seq"]?.numberValue
        let window = last.text == "0" ? "none yet" : "\(first.map { "#\($0)" } ?? "?")...#\(last)"
        lines.append(("events", window + " (\(cell(events["retained"])) retained, \(cell(events["retained_bytes"])) bytes)"))
    }
    let members = status["members"]?.arrayValue ?? []
    lines.append(("members", "\(members.count)"))

    let width = lines.map(\.0.count).max() ?? 0
    var text = lines.map { "\($0.0):" + String(repeating: " ", count: width - $0.0.count + 1) + $0.1 }.joined(separator: "\n")
    if !members.isEmpty {
        let leaderID = status["leader"]?["id"]?.stringValue
        var table = TextTable("ID", "API", "RAFT", "VOTER", "LEADER", "SWIM")
        for member in members {
            table.append([cell(member["id"]), cell(member["api_addr"]), cell(member["addr"]), cell(member["voter"]),
                          member["id"]?.stringValue == leaderID ? "yes" : "no", cell(member["swim"])])
        }
        text += "\n" + table.rendered(indent: "  ")
    }
    return text
}

// MARK: - nodes

/// `discoctl nodes`: `GET /nodes` as a table. Voters only unless `-nonvoters`; the same filter
/// applies to `-format json`, which prints the node's rows as a JSON array.
func runNodes(_ context: CommandContext, nonVoters: Flag<Bool>, role roleFlag: Flag<String>) async -> Int32 {
    if let extra = context.flags.positionals.first { return usageError(context, "unexpected argument \(extra.debugDescription)") }
    let role = context.flags[roleFlag]
    // Given empty (a script's unset variable) is refused as any bad name, not taken as not given.
    if context.flags.isSet(roleFlag), let problem = RoleNames.problem(with: role) { return usageError(context, "-role: \(problem)") }
    let rows: [JSONValue]
    switch await NodeAPI(context).getJSON(role.isEmpty ? "/nodes" : "/nodes?role=\(role)", command: "nodes") {
    case .success(let (json, _)):
        guard let array = json.arrayValue else {
            return fail("nodes", "the node at \(context.node.url) answered GET /nodes with \(json.kindDescription), expected an array").code
        }
        rows = array
    case .failure(let exit): return exit.code
    }
    let includeNonVoters = context.flags[nonVoters]
    let shown = rows.filter { includeNonVoters || $0["voter"]?.boolValue != false }
    let hidden = rows.count - shown.count
    if context.format == .json {
        printLine(JSONValue.array(shown).encoded())
        return 0
    }
    var table = TextTable("ID", "API", "RAFT", "VOTER", "LEADER", "REACHABLE", "SWIM", "ROLES")
    for row in shown {
        let roles = row["roles"]?.arrayValue?.compactMap(\.stringValue) ?? []
        table.append([cell(row["id"]), cell(row["api_addr"]), cell(row["addr"]), cell(row["voter"]), cell(row["leader"]),
                      cell(row["reachable"]), cell(row["swim"]), roles.isEmpty ? "-" : roles.joined(separator: ",")])
    }
    printLine(table.rendered())
    if hidden > 0 {
        CommandLineTool.writeStandardError("(\(hidden) non-voting node\(hidden == 1 ? "" : "s") not shown; add -nonvoters to list them)\n")
    }
    return 0
}

// MARK: - leader (from the node)

/// `discoctl leader` without `-disco-mode`: the node's `GET /leader`.
func runNodeLeader(_ context: CommandContext) async -> Int32 {
    let api = NodeAPI(context)
    let answer: NodeAnswer
    do {
        answer = try await api.send("GET", "/leader")
    } catch {
        return fail("leader", "\(error)").code
    }
    guard answer.status == 200, let leader = answer.json else {
        if answer.status == 503 {
            return fail("leader", "the node at \(context.node.url) knows no leader yet (\(answer.errorMessage)); "
                + "the cluster may still be forming, see discoctl status").code
        }
        return fail("leader", "the node at \(context.node.url) answered GET /leader with \(answer.status): \(answer.errorMessage)").code
    }
    if context.format == .json {
        printLine(leader.encoded())
    } else {
        printLine("id: \(cell(leader["id"]))\napi_addr: \(cell(leader["api_addr"]))\naddr: \(cell(leader["addr"]))")
    }
    return 0
}
