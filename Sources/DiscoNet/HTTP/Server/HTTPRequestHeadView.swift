import DiscoCore

// MARK: - A request head read in place

/// A request head an ``HTTPInlineHandler`` sees in the connection's receive buffer, before any
/// string or field list is made of it (see ``HTTPSimpleRequestHead`` for which heads come this
/// way): HTTP/1.1, origin-form target, no body, printable ASCII, exactly one `Host`.
///
/// **Valid only during the ``HTTPInlineHandler/handle(head:reply:)`` call**: its bytes are the
/// buffer's, which the connection reuses afterwards. Copy out what is needed later (or ask
/// ``HTTPInlineReply/request()`` for the whole request).
public struct HTTPRequestHeadView {
    /// The head's bytes, through the empty line.
    public let bytes: UnsafeBufferPointer<UInt8>
    /// Where the method, target and fields lie in ``bytes``.
    public let head: HTTPSimpleRequestHead
    /// The fields in order.
    public let fields: UnsafeBufferPointer<HTTPFieldSpan>

    public init(bytes: UnsafeBufferPointer<UInt8>, head: HTTPSimpleRequestHead, fields: UnsafeBufferPointer<HTTPFieldSpan>) {
        self.bytes = bytes
        self.head = head
        self.fields = fields
    }

    /// The bytes of `range` (of ``bytes``).
    public func slice(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[range])
    }

    /// The method token.
    public var method: String { HTTPSyntax.commonString(bytes, head.method) }

    /// The target as sent (`/path?query`).
    public var target: String { HTTPSyntax.string(bytes, head.target) }

    /// The target up to its `?`, as ``HTTPRequestTarget/path`` gives it.
    public var path: String { HTTPSyntax.string(bytes, pathRange) }

    /// The method's bytes.
    public var methodBytes: UnsafeBufferPointer<UInt8> { slice(head.method) }

    /// The target's bytes.
    public var targetBytes: UnsafeBufferPointer<UInt8> { slice(head.target) }

    /// The path's bytes (the target up to its `?`).
    public var pathBytes: UnsafeBufferPointer<UInt8> { slice(pathRange) }

    private var pathRange: Range<Int> {
        var end = head.target.lowerBound
        while end < head.target.upperBound, bytes[end] != UInt8(ascii: "?") { end += 1 }
        return head.target.lowerBound..<end
    }

    /// Whether the target starts with `prefix`.
    public func targetHasPrefix(_ prefix: String) -> Bool {
        let target = slice(head.target)
        return prefix.withBorrowedUTF8 { expected in
            guard target.count >= expected.count else { return false }
            for offset in 0..<expected.count where target[offset] != expected[offset] { return false }
            return true
        }
    }

    /// The field's name bytes.
    public func name(_ field: HTTPFieldSpan) -> UnsafeBufferPointer<UInt8> { slice(field.name) }

    /// The field's value bytes (trimmed).
    public func value(_ field: HTTPFieldSpan) -> UnsafeBufferPointer<UInt8> { slice(field.value) }
}
