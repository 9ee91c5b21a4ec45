// MARK: - The request target

/// A request with an origin-form target (`/path?query`): its path and query, read the same way
/// for whole and streaming requests.
public protocol HTTPRequestTarget {
    /// The request target as received (`/path?query`).
    var target: String { get }
}

extension HTTPRequestTarget {
    /// The path part of the target (before `?`).
    public var path: String {
        if let mark = target.firstIndex(of: "?") { return String(target[..<mark]) }
        return target
    }

    /// The query part of the target (after `?`), or nil when there is none.
    public var query: String? {
        guard let mark = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: mark)...])
    }
}
