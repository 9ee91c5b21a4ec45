// MARK: - A string's bytes, borrowed

extension String {
    /// Runs `body` on the string's UTF-8 bytes without copying the string (`withUTF8` needs a
    /// `var`, and that copy costs a retain and a release on paths that run for every field of
    /// every message); a string without contiguous bytes is made contiguous first.
    @inlinable
    public func withBorrowedUTF8<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        if let result = try utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = self
        return try copy.withUTF8(body)
    }
}
