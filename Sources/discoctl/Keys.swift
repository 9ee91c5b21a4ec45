import DiscoCore
import DiscoSystem

// MARK: - keys

/// `discoctl keys add <app_id> [-app-key KEY]`, `discoctl keys list`, `discoctl keys revoke <app_id>`:
/// the sidecars' API keys, through the node API's `POST /keys`, `GET /keys`, `DELETE /keys/{app_id}`.
func runKeys(_ context: CommandContext, key keyFlag: Flag<String>) async -> Int32 {
    let positionals = context.flags.positionals
    guard let action = positionals.first else { return usageError(context, "missing the action: add, list or revoke") }
    let api = NodeAPI(context)
    let answer: NodeAnswer
    do {
        switch action {
        case "add":
            guard positionals.count == 2 else { return usageError(context, "keys add takes one app_id, e.g. discoctl keys add app1") }
            if let problem = appIDProblem(positionals[1], action: action) { return usageError(context, problem) }
            var body = JSONObject()
            body.append(key: "app_id", value: .string(positionals[1]))
            let given = context.flags[keyFlag]
            if !given.isEmpty { body.append(key: "app_key", value: .string(given)) }
            answer = try await api.send("POST", "/keys", json: JSONValue.object(body).encoded())
        case "list":
            guard positionals.count == 1 else { return usageError(context, "keys list takes no arguments") }
            answer = try await api.send("GET", "/keys")
        case "revoke":
            guard positionals.count == 2 else { return usageError(context, "keys revoke takes one app_id, e.g. discoctl keys revoke app1") }
            let appID = positionals[1]
            if let problem = appIDProblem(appID, action: action) { return usageError(context, problem) }
            answer = try await api.send("DELETE", "/keys/" + appID)
        default:
            return usageError(context, "unknown action \(action.debugDescription); use add, list or revoke")
        }
    } catch {
        return fail("keys", "\(error)").code
    }
    guard (200..<300).contains(answer.status) else {
        let hint = answer.status == 404 && action != "revoke" ? " (is the node a disco-sidecar?)" : ""
        return fail("keys", "\(action) refused (\(answer.status)): \(answer.errorMessage)\(hint)").code
    }
    // 202: committed, but the node asked had not applied it yet (its sidecar checks its own copy).
    if let warning = answer.json?["warning"]?.stringValue {
        CommandLineTool.writeStandardError("discoctl keys: warning: \(warning)\n")
    }
    if context.format == .json {
        guard printLine(answer.json?.encoded() ?? answer.text) || action != "add" else { return keyNotShown(positionals[1]) }
        return 0
    }
    switch action {
    case "add":
        let appID = answer.json?["app_id"]?.stringValue ?? "?"
        guard printLine("app_id \(appID) app_key \(answer.json?["app_key"]?.stringValue ?? "?")") else { return keyNotShown(appID) }
        printLine("(the key is shown only now: the cluster keeps only its salted hash)")
    case "list":
        for entry in answer.json?["keys"]?.arrayValue ?? [] {
            printLine("\(entry["app_id"]?.stringValue ?? "?")\(entry["revoked"]?.boolValue == true ? " revoked" : "")")
        }
    default:
        printLine("revoked \(answer.json?["app_id"]?.stringValue ?? "?")")
    }
    return 0
}

/// Why `appID` can name no key (nil when it can), as the node checks it: 1 to 128 visible ASCII
/// characters without `/ ? # %`. It is the last segment of `DELETE /keys/{app_id}`'s path, taken
/// as sent, so anything else would reach the node as another path, a query or no request at all.
private func appIDProblem(_ appID: String, action: String) -> String? {
    let excluded: Set<UInt8> = [UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "%")]
    let bytes = Array(appID.utf8)
    if (1...128).contains(bytes.count), bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !excluded.contains($0) }) { return nil }
    return "keys \(action): \(appID.debugDescription) is not an app_id: one is 1 to 128 visible ASCII characters without '/', '?', '#' or '%'"
}

/// The key was stored but could not be printed, and the cluster keeps only its hash: exit 1,
/// saying how to get a key for the app_id again.
private func keyNotShown(_ appID: String) -> Int32 {
    fail("keys", "app_id \(appID.debugDescription) got a key, but it could not be written to standard output and is not kept "
        + "anywhere: revoke it (discoctl keys revoke \(appID)) and add it again").code
}
