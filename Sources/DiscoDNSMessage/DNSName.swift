// MARK: - DNSName

/// A domain name as a list of labels (raw bytes, without the root label).
///
/// Comparison and hashing ignore ASCII case, as DNS does. `description` prints the name without
/// the trailing dot, escaping dots, backslashes and unprintable bytes inside labels
/// (`\.`, `\\`, `\DDD`); the root name prints as `.`.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// Longest label, in bytes (RFC 1035 §2.3.4).
    public static let maxLabelLength = 63
    /// Longest name in wire form, length bytes and the root label included (RFC 1035 §2.3.4).
    public static let maxWireLength = 255

    /// The labels from left to right; empty for the root.
    public let labels: [[UInt8]]

    /// The root name `.`.
    public static let root = DNSName(validatedLabels: [])

    init(validatedLabels labels: [[UInt8]]) {
        self.labels = labels
    }

    /// Creates a name from labels, checking the RFC 1035 length limits.
    public init(labels: [[UInt8]]) throws(DNSMessageError) {
        for label in labels {
            guard !label.isEmpty else {
                throw DNSMessageError(.invalidName, at: 0, "empty label; only the root may be empty")
            }
            guard label.count <= Self.maxLabelLength else {
                throw DNSMessageError(.nameTooLong, at: 0, "label of \(label.count) bytes; at most 63 are allowed")
            }
        }
        let wire = labels.reduce(1) { $0 + 1 + $1.count }
        guard wire <= Self.maxWireLength else {
            throw DNSMessageError(.nameTooLong, at: 0, "name of \(wire) bytes in wire form; at most 255 are allowed")
        }
        self.labels = labels
    }

    /// Parses a dotted name such as `rqlite.local`, `_raft._tcp.example.com.` or `.`.
    /// A single trailing dot is allowed; empty labels (`a..b`) are not.
    public init(parsing text: String) throws(DNSMessageError) {
        if text == "." {
            self = .root
            return
        }
        var body = Substring(text)
        if body.hasSuffix(".") { body = body.dropLast() }
        guard !body.isEmpty else {
            throw DNSMessageError(.invalidName, at: 0, "empty name; write \".\" for the root")
        }
        guard !body.utf8.contains(UInt8(ascii: "\\")) else {
            throw DNSMessageError(.invalidName, at: 0, "backslash escapes are not supported in \(text.debugDescription)")
        }
        guard !body.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw DNSMessageError(.invalidName, at: 0, "whitespace or control character in \(text.debugDescription)")
        }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        var labels: [[UInt8]] = []
        for part in parts {
            guard !part.isEmpty else {
                throw DNSMessageError(.invalidName, at: 0, "empty label in \(text.debugDescription)")
            }
            labels.append(Array(part.utf8))
        }
        do {
            try self.init(labels: labels)
        } catch {
            throw DNSMessageError(error.code, at: 0, "\(error.detail) in \(text.debugDescription)")
        }
    }

    /// Whether this is the root name (an SRV target of `.` means "no service here").
    public var isRoot: Bool { labels.isEmpty }

    /// Length in wire form without compression.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// Returns `prefix` labels followed by this name's labels.
    public func prepending(_ prefix: [String]) throws(DNSMessageError) -> DNSName {
        try DNSName(labels: prefix.map { Array($0.utf8) } + labels)
    }

    // MARK: Presentation

    public var description: String {
        guard !labels.isEmpty else { return "." }
        var out = ""
        for (index, label) in labels.enumerated() {
            if index > 0 { out.append(".") }
            for byte in label {
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"):
                    out.append("\\")
                    out.append(Character(Unicode.Scalar(byte)))
                case 0x21...0x7E:
                    out.append(Character(Unicode.Scalar(byte)))
                default:
                    let digits = String(byte)
                    out.append("\\" + String(repeating: "0", count: 3 - digits.count) + digits)
                }
            }
        }
        return out
    }

    // MARK: Case-insensitive identity

    private static func lower(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }

    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        guard lhs.labels.count == rhs.labels.count else { return false }
        for (a, b) in zip(lhs.labels, rhs.labels) {
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where lower(x) != lower(y) { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(labels.count)
        for label in labels {
            hasher.combine(label.count)
            for byte in label { hasher.combine(Self.lower(byte)) }
        }
    }
}
