import DiscoCore

// MARK: - remove

/// `discoctl remove <node-id>`: `DELETE /remove {"id"}`, following the node's redirect to the leader.
func runRemove(_ context: CommandContext) async -> Int32 {
    let positionals = context.flags.positionals
    guard let id = positionals.first else { return usageError(context, "missing the ID of the node to remove") }
    guard positionals.count == 1 else { return usageError(context, "unexpected argument \(positionals[1].debugDescription) after the node ID") }
    guard NodeID(id) != nil else { return usageError(context, "\(id.debugDescription) is not a valid node ID") }
    let body = JSONValue.object(JSONObject([.init(key: "id", value: .string(id))])).encoded()
    let answer: NodeAnswer
    do {
        answer = try await NodeAPI(context).send("DELETE", "/remove", json: body, followRedirects: true)
    } catch {
        return fail("remove", "\(error)").code
    }
    switch answer.status {
    case 200:
        if context.format == .json {
            printLine(answer.json?.encoded() ?? answer.text)
        } else {
            printLine("removed node \(answer.json?["removed"]?.stringValue ?? id)")
        }
        return 0
    case 404:
        return fail("remove", answer.errorMessage).code
    case 503:
        // The node's reason says whether retrying is safe ("outcome unknown … check before retrying").
        if let reason = answer.nodeError { return fail("remove", "the cluster answered 503 to removing node \(id): \(reason)").code }
        return fail("remove", "no leader to remove node \(id) (\(answer.errorMessage)); retry when discoctl leader answers").code
    default:
        return fail("remove", "the cluster refused to remove node \(id) (\(answer.status)): \(answer.errorMessage)").code
    }
}
