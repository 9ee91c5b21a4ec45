// MARK: - Role names

/// The names of roles a node announces (`"dns"`, `"host"`, `"app-writer"`): what the member
/// record and gossip carry, and what `-roles` takes.
public enum RoleNames {
    /// Longest role name, in bytes.
    public static let maxLength = 63
    /// Most roles one node announces.
    public static let maxCount = 32

    /// Nil when `name` is a valid role name (1 to 63 lowercase ASCII letters, digits and `-`,
    /// starting with a letter); else what is wrong.
    public static func problem(with name: String) -> String? {
        let bytes = Array(name.utf8)
        let length = "role name \(quotedForError(name)) must be 1 to \(maxLength) characters long"
        guard !bytes.isEmpty else { return length }
        // The characters first: a short name in other letters (40 "é", 80 bytes) is not too long.
        let valid = bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
        guard valid, (0x61...0x7A).contains(bytes[0]) else {
            return "role name \(quotedForError(name)) must be lowercase letters, digits and '-', starting with a letter"
        }
        return bytes.count <= maxLength ? nil : length
    }

    /// Nil when every name is valid and there are at most ``maxCount`` distinct ones.
    public static func problem(with names: [String]) -> String? {
        for name in names { if let problem = problem(with: name) { return problem } }
        let distinct = Set(names).count
        return distinct <= maxCount ? nil : "\(distinct) roles exceed the limit of \(maxCount)"
    }

    /// The names sorted, each once.
    public static func normalized(_ names: [String]) -> [String] { Array(Set(names)).sorted() }
}

// MARK: - Event consumer names

/// The names of the consumers whose cursors the cluster keeps per role (`POST /events/ack`,
/// `discoctl events -consumer`).
public enum EventConsumerNames {
    /// Longest consumer name, in bytes.
    public static let maxBytes = 128

    /// Nil when `consumer` can name a cursor (1 to 128 bytes, no whitespace or control
    /// characters, no `/`); else what is wrong.
    public static func problem(with consumer: String) -> String? {
        guard NodeID.isValid(consumer), consumer.utf8.count <= maxBytes, !consumer.contains("/") else {
            return "consumer \(quotedForError(consumer)) must be 1 to \(maxBytes) bytes without whitespace, control characters or '/'"
        }
        return nil
    }
}

// MARK: - Names in errors

/// `name` quoted for an error message: whole when short, else its first 64 characters and its
/// length, so a name as long as a request body may be is not echoed back whole.
private func quotedForError(_ name: String) -> String {
    let limit = 64
    guard name.count > limit else { return name.debugDescription }
    return String(name.prefix(limit)).debugDescription + "… (\(name.utf8.count) bytes)"
}
