// MARK: - The `hot` query parameter

extension HotColdAPI {
    /// Whether a `/readyz` query asks about hotness: `hot`, `hot=true` or `hot=1` yes; no `hot`
    /// parameter, `hot=false` or `hot=0` no; any other value of `hot` is an error naming the
    /// accepted ones. Other parameters are left to the caller.
    public static func asksForHot(query: String?) -> Result<Bool, HotColdQueryError> {
        guard let query else { return .success(false) }
        var asks = false
        for parameter in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0] == "hot" else { continue }
            switch parts.count == 1 ? "" : String(parts[1]) {
            case "", "true", "1": asks = true
            case "false", "0": asks = false
            case let other:
                return .failure(HotColdQueryError(message: "hot=\(other) is not a valid value; use /readyz?hot (or hot=true, hot=1, hot=false, hot=0)"))
            }
        }
        return .success(asks)
    }
}

/// A `/readyz` query whose `hot` parameter has a value that means nothing.
public struct HotColdQueryError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
