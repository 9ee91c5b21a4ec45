import DiscoCore

// MARK: - hot

/// `discoctl hot status` (`GET /hot`) and `discoctl hot move -to ID` (`POST /hot/move?to=ID`):
/// the hot/cold group of a `disco-sidecar -hot-cold` node.
func runHot(_ context: CommandContext, to toFlag: Flag<String>) async -> Int32 {
    let positionals = context.flags.positionals
    guard let action = positionals.first else { return usageError(context, "missing the action: status or move") }
    guard positionals.count == 1 else {
        return usageError(context, "unexpected argument \(positionals[1].debugDescription) after \(action); name the target with -to ID")
    }
    let target = context.flags[toFlag]
    let answer: NodeAnswer
    do {
        switch action {
        case "status":
            guard target.isEmpty else { return usageError(context, "-to is for hot move, not hot status") }
            answer = try await NodeAPI(context).send("GET", "/hot")
        case "move":
            guard !target.isEmpty else { return usageError(context, "hot move needs -to ID naming the replica to make hot, e.g. -to node-2") }
            guard NodeID(target) != nil else { return usageError(context, "-to \(target.debugDescription) is not a valid node ID") }
            answer = try await NodeAPI(context).send("POST", "/hot/move?to=" + queryEscaped(target))
        default:
            return usageError(context, "unknown action \(action.debugDescription); use status or move")
        }
    } catch {
        return fail("hot", "\(error)").code
    }
    guard answer.status == 200 else {
        let hint = answer.status == 404 && !answer.errorMessage.contains("eligible replicas") ? " (is the node a disco-sidecar started with -hot-cold?)" : ""
        return fail("hot", "\(action) refused (\(answer.status)): \(answer.errorMessage)\(hint)").code
    }
    guard let json = answer.json else {
        return fail("hot", "the node answered with a body that is not JSON: \(answer.text.prefix(200))").code
    }
    if context.format == .json {
        printLine(json.encoded())
        return 0
    }
    if action == "move" {
        printLine("moving hot/cold group \(json["group"]?.stringValue ?? "?") to \(json["moving_to"]?.stringValue ?? target); "
            + "'discoctl hot status' shows when it is hot")
        return 0
    }
    printHotStatus(json)
    return 0
}

/// `GET /hot` for people: who is hot, then this node's own state.
private func printHotStatus(_ json: JSONValue) {
    let group = json["group"]?.stringValue ?? "?"
    let token = cell(json["token"])
    if let hot = json["hot"]?.stringValue {
        printLine("group \(group): \(hot) is hot (token \(token))")
    } else {
        printLine("group \(group): no replica is hot (last token \(token))")
    }
    var node = "this node \(json["node"]?.stringValue ?? "?"): \(json["state"]?.stringValue ?? "?") since \(cell(json["since"]))"
    node += ", token \(cell(json["node_token"]))"
    if let reason = json["reason"]?.stringValue, json["state"]?.stringValue == "cold" { node += ", last became cold: \(reason)" }
    printLine(node)
    var traits = ["healthy \(cell(json["healthy"]))", "priority \(cell(json["priority"]))"]
    if json["may_be_hot"]?.boolValue == false { traits.append("-no-hot") }
    printLine("  " + traits.joined(separator: ", "))
}
