// MARK: - The request target

/// A request with an origin-form target (`/path?query`): its path and query, read the same way
/// for whole and streaming requests.
public protocol HTTPRequestTarget {
    /// The request target in origin form (`/path?query`; the parser gives an absolute-form
    /// target, `http://host/path?query`, as its path and query).
    var target: String { get }
}

extension HTTPRequestTarget {
    /// The path part of the target (before `?`).
    public var path: String {
        let target = self.target
        if let mark = Self.questionMark(in: target) { return String(target[..<mark]) }
        return target
    }

    /// The query part of the target (after `?`), or nil when there is none.
    public var query: String? {
        let target = self.target
        guard let mark = Self.questionMark(in: target) else { return nil }
        return String(target[target.utf8.index(after: mark)...])
    }

    /// Where the first `?` is. It is ASCII: searched as a byte, in the string's own bytes when
    /// it has them (a search by `Character` compares grapheme by grapheme), and its index is a
    /// valid boundary to cut the string at.
    private static func questionMark(in target: String) -> String.Index? {
        let utf8 = target.utf8
        let offset = utf8.withContiguousStorageIfAvailable { bytes -> Int? in
            for index in 0..<bytes.count where bytes[index] == UInt8(ascii: "?") { return index }
            return nil
        }
        switch offset {
        case .some(.some(let offset)): return utf8.index(utf8.startIndex, offsetBy: offset)
        case .some(.none): return nil
        case .none: return utf8.firstIndex(of: UInt8(ascii: "?"))
        }
    }
}
