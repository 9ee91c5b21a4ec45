// MARK: - Routes compiled for matching bytes

/// The route table compiled once for the proxy's inline lane: each route's methods as a bit set
/// over the common methods (the rest by their bytes) and its prefix as bytes, all in flat
/// storage, so that matching a request's method and path bytes makes no string, hashes
/// nothing and copies no route. It answers exactly what ``RouteTable/firstMatch(method:path:)``
/// answers.
public struct RouteMatcher: Sendable {
    private struct Entry: Sendable {
        /// Nil: every method.
        var methodBits: UInt16?
        /// Methods outside the common ones, as ranges of ``otherMethodBytes``.
        var otherMethods: Range<Int>
        var prefix: Range<Int>
    }

    private let entries: [Entry]
    /// The prefixes' bytes, one after another.
    private let prefixBytes: [UInt8]
    /// The uncommon methods' byte ranges (in ``methodBytes``), by route.
    private let otherMethodRanges: [Range<Int>]
    private let methodBytes: [UInt8]

    /// The common methods, by bit.
    private static let common: [String] = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "TRACE"]

    public init(_ table: RouteTable) {
        var entries: [Entry] = []
        var prefixBytes: [UInt8] = []
        var otherMethodRanges: [Range<Int>] = []
        var methodBytes: [UInt8] = []
        for route in table.routes {
            var bits: UInt16?
            let othersStart = otherMethodRanges.count
            if let methods = route.methods {
                var set: UInt16 = 0
                // Sorted: the compiled table does not depend on the set's order.
                for method in methods.sorted() {
                    if let bit = Self.common.firstIndex(of: method) {
                        set |= 1 << UInt16(bit)
                    } else {
                        otherMethodRanges.append(methodBytes.count..<(methodBytes.count + method.utf8.count))
                        methodBytes.append(contentsOf: method.utf8)
                    }
                }
                bits = set
            }
            let prefixStart = prefixBytes.count
            prefixBytes.append(contentsOf: route.pathPrefix.utf8)
            entries.append(Entry(methodBits: bits, otherMethods: othersStart..<otherMethodRanges.count,
                                 prefix: prefixStart..<prefixBytes.count))
        }
        self.entries = entries
        self.prefixBytes = prefixBytes
        self.otherMethodRanges = otherMethodRanges
        self.methodBytes = methodBytes
    }

    /// The index of the first route that matches `method` and `path` (UTF-8 bytes), or nil.
    public func firstMatch(method: UnsafeBufferPointer<UInt8>, path: UnsafeBufferPointer<UInt8>) -> Int? {
        let bit = Self.commonBit(method)
        for index in entries.indices {
            let entry = entries[index]
            if let bits = entry.methodBits {
                if let bit {
                    guard bits & (1 << bit) != 0 else { continue }
                } else {
                    guard hasOtherMethod(method, entry.otherMethods) else { continue }
                }
            }
            guard path.count >= entry.prefix.count else { continue }
            let matched = prefixBytes.withUnsafeBufferPointer { prefix in
                var offset = 0
                var position = entry.prefix.lowerBound
                while position < entry.prefix.upperBound {
                    if prefix[position] != path[offset] { return false }
                    offset += 1
                    position += 1
                }
                return true
            }
            if matched { return index }
        }
        return nil
    }

    private func hasOtherMethod(_ method: UnsafeBufferPointer<UInt8>, _ ranges: Range<Int>) -> Bool {
        for index in ranges {
            let range = otherMethodRanges[index]
            guard range.count == method.count else { continue }
            let equal = methodBytes.withUnsafeBufferPointer { bytes in
                (0..<range.count).allSatisfy { bytes[range.lowerBound + $0] == method[$0] }
            }
            if equal { return true }
        }
        return false
    }

    /// The bit of a common method (case-sensitive, as methods are), nil for any other.
    static func commonBit(_ method: UnsafeBufferPointer<UInt8>) -> UInt16? {
        func equals(_ name: StaticString) -> Bool {
            name.utf8CodeUnitCount == method.count && (0..<method.count).allSatisfy { name.utf8Start[$0] == method[$0] }
        }
        switch method.count {
        case 3: return equals("GET") ? 0 : equals("PUT") ? 4 : nil
        case 4: return equals("HEAD") ? 1 : equals("POST") ? 3 : nil
        case 5: return equals("PATCH") ? 5 : equals("TRACE") ? 8 : nil
        case 6: return equals("DELETE") ? 6 : nil
        case 7: return equals("OPTIONS") ? 2 : equals("CONNECT") ? 7 : nil
        default: return nil
        }
    }
}
