import DiscoCore

// MARK: - BasicCredentials

/// A user name and password from an HTTP `Authorization: Basic …` header (RFC 7617).
public struct BasicCredentials: Sendable, Hashable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// Reads an `Authorization` header value. Nil when it is not Basic authentication or is
    /// malformed (not base64, no `:`, not UTF-8).
    public init?(authorization header: String) {
        let trimmed = header.drop { $0 == " " }
        guard trimmed.count > 6, trimmed.prefix(6).lowercased() == "basic " else { return nil }
        let token = String(trimmed.dropFirst(6)).trimmingSpaces
        guard let bytes = Base64.decodeUnpadded(token), let text = String(validating: bytes, as: UTF8.self),
              let colon = text.firstIndex(of: ":")
        else { return nil }
        username = String(text[..<colon])
        password = String(text[text.index(after: colon)...])
    }

    /// The `Authorization` header value for these credentials.
    public var headerValue: String { "Basic " + Base64.encode(Array("\(username):\(password)".utf8)) }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
