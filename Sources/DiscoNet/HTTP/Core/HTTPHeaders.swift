// MARK: - Header fields

/// One header field as received or to be sent.
public struct HTTPField: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Header fields in order, with case-insensitive lookup by name.
///
/// Order and duplicates are preserved exactly as received; lookups compare names ignoring ASCII
/// case, as HTTP requires.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The fields, in order.
    public private(set) var fields: [HTTPField]

    public init() { fields = [] }

    public init(_ fields: [HTTPField]) { self.fields = fields }

    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { HTTPField(name: $0.0, value: $0.1) }
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    public func makeIterator() -> IndexingIterator<[HTTPField]> { fields.makeIterator() }

    /// The first value for `name`, or nil.
    public subscript(name: String) -> String? {
        for field in fields where Self.namesEqual(field.name, name) { return field.value }
        return nil
    }

    /// Every value for `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { Self.namesEqual($0.name, name) }.map(\.value)
    }

    /// True when a field named `name` is present.
    public func contains(_ name: String) -> Bool {
        fields.contains { Self.namesEqual($0.name, name) }
    }

    /// Appends a field, keeping any existing ones with the same name.
    public mutating func add(name: String, value: String) {
        fields.append(HTTPField(name: name, value: value))
    }

    /// Replaces every field named `name` with one field holding `value`.
    public mutating func set(name: String, value: String) {
        remove(name)
        add(name: name, value: value)
    }

    /// Gives the first field named `name` the value `value`, in its place, and removes the
    /// others; appends one when there is none.
    mutating func replaceFirst(name: String, value: String) {
        guard let first = fields.firstIndex(where: { Self.namesEqual($0.name, name) }) else {
            add(name: name, value: value)
            return
        }
        fields[first].value = value
        var index = fields.count - 1
        while index > first {
            if Self.namesEqual(fields[index].name, name) { fields.remove(at: index) }
            index -= 1
        }
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { Self.namesEqual($0.name, name) }
    }

    /// True when a comma-separated header (such as `Connection`) lists `token`, ignoring case.
    public func hasToken(_ token: String, in name: String) -> Bool {
        for field in fields where Self.namesEqual(field.name, name) {
            if Self.listContains(field.value, token) { return true }
        }
        return false
    }

    /// Counts fields named `name` without allocating.
    func count(of name: String) -> Int {
        var total = 0
        for field in fields where Self.namesEqual(field.name, name) { total += 1 }
        return total
    }

    /// Whether the comma-separated `list` has an element equal to `token` (ASCII case-insensitive,
    /// surrounding whitespace ignored), without allocating.
    static func listContains(_ list: String, _ token: String) -> Bool {
        let bytes = list.utf8
        var index = bytes.startIndex
        while index < bytes.endIndex {
            while index < bytes.endIndex, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x2C {
                index = bytes.index(after: index)
            }
            let start = index
            while index < bytes.endIndex, bytes[index] != 0x2C { index = bytes.index(after: index) }
            var end = index
            while end > start, bytes[bytes.index(before: end)] == 0x20 || bytes[bytes.index(before: end)] == 0x09 {
                end = bytes.index(before: end)
            }
            if start < end, asciiCaseInsensitiveEqual(bytes[start..<end], token.utf8) { return true }
        }
        return false
    }

    public var description: String {
        fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    /// ASCII case-insensitive comparison without allocating.
    static func namesEqual(_ a: String, _ b: String) -> Bool {
        if a.utf8.count != b.utf8.count { return false }
        // On the strings' own bytes: every lookup compares the name with each field's.
        // (Without DiscoCore's withBorrowedUTF8: the parser fuzzers compile this file alone.)
        let equal = a.utf8.withContiguousStorageIfAvailable { left in
            b.utf8.withContiguousStorageIfAvailable { right in asciiCaseInsensitiveEqual(left, right) }
        }
        return (equal ?? nil) ?? asciiCaseInsensitiveEqual(a.utf8, b.utf8)
    }

    /// Whether the name `bytes` equals `lowercased` ignoring ASCII case, without allocating.
    static func bytesEqual(_ bytes: UnsafeBufferPointer<UInt8>, lowercased: StaticString) -> Bool {
        bytes.count == lowercased.utf8CodeUnitCount && lowercased.withUTF8Buffer { asciiCaseInsensitiveEqual(bytes, $0) }
    }

    static func asciiCaseInsensitiveEqual(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for index in 0..<a.count {
            let x = a[index]
            let y = b[index]
            if x == y { continue }
            let folded = x | 0x20
            if folded != y | 0x20 || folded < UInt8(ascii: "a") || folded > UInt8(ascii: "z") { return false }
        }
        return true
    }

    static func asciiCaseInsensitiveEqual(_ a: some Sequence<UInt8>, _ b: some Sequence<UInt8>) -> Bool {
        var left = a.makeIterator()
        var right = b.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return true
            case (let x?, let y?):
                if x == y { continue }
                if x | 0x20 == y | 0x20, (x | 0x20) >= UInt8(ascii: "a"), (x | 0x20) <= UInt8(ascii: "z") { continue }
                return false
            default: return false
            }
        }
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs.
    func trimmingASCIIWhitespace() -> Substring {
        var result = self[...]
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
