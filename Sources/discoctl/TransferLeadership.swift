import DiscoCore

// MARK: - transfer-leadership

/// `discoctl transfer-leadership [<node-id>]`: `POST /leader/transfer {"id"}`, following the
/// node's redirect to the leader; prints the new leader.
func runTransferLeadership(_ context: CommandContext) async -> Int32 {
    let positionals = context.flags.positionals
    guard positionals.count <= 1 else { return usageError(context, "unexpected argument \(positionals[1].debugDescription) after the node ID") }
    let target = positionals.first
    if let target, NodeID(target) == nil { return usageError(context, "\(target.debugDescription) is not a valid node ID") }
    let body: String? = target.map { JSONValue.object(JSONObject([.init(key: "id", value: .string($0))])).encoded() }
    let answer: NodeAnswer
    do {
        answer = try await NodeAPI(context).send("POST", "/leader/transfer", json: body, followRedirects: true)
    } catch {
        return fail("transfer-leadership", "\(error)").code
    }
    switch answer.status {
    case 200:
        if context.format == .json {
            printLine(answer.json?.encoded() ?? answer.text)
        } else {
            let leader = answer.json?["leader"]
            let previous = answer.json?["previous"]?.stringValue ?? "?"
            printLine("leader is now \(leader?["id"]?.stringValue ?? "?") at \(leader?["api_addr"]?.stringValue ?? "?") (was \(previous))")
        }
        return 0
    case 503:
        // The node's reason says whether retrying is safe ("outcome unknown … check before retrying").
        if let reason = answer.nodeError { return fail("transfer-leadership", "the cluster answered 503 to moving leadership: \(reason)").code }
        return fail("transfer-leadership", "leadership did not move (\(answer.errorMessage)); retry when discoctl leader answers").code
    default:
        return fail("transfer-leadership", "the cluster refused to move leadership (\(answer.status)): \(answer.errorMessage)").code
    }
}
