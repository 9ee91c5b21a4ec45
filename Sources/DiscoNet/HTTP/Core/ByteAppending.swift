// MARK: - Appending text to a byte buffer without copying the text

import DiscoCore

extension Array where Element == UInt8 {
    /// Appends `text`'s UTF-8 bytes, borrowed: no copy of the string and no generic walk over its
    /// UTF-8 view (the encoders run this for every field of every message).
    @inlinable
    mutating func appendUTF8(_ text: String) {
        text.withBorrowedUTF8 { append(contentsOf: $0) }
    }

    /// Appends a literal's bytes.
    @inlinable
    mutating func appendUTF8(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }
}

