// MARK: - AuthUser

/// One entry of the `-auth` file.
public struct AuthUser: Sendable, Hashable {
    /// The user name; `"*"` is every caller, with or without credentials.
    public var username: String
    /// The password (nil only for `"*"`).
    public var password: StoredPassword?
    public var permissions: Set<Permission>

    public init(username: String, password: StoredPassword?, permissions: Set<Permission>) {
        self.username = username
        self.password = password
        self.permissions = permissions
    }

    /// Whether this entry grants to anonymous callers.
    public var isAnyone: Bool { username == AuthFile.anyone }
}

// MARK: - AuthFile

/// The `-auth` file, as rqlite reads it: a JSON array of
/// `{"username": "…", "password": "…", "perms": ["…", …]}`.
///
/// A `"*"` entry (no password) grants its permissions to every caller, anonymous or not: this is
/// how `/readyz` and `/metrics` are made public. Passwords are stored as written or hashed (see
/// ``StoredPassword``). Reading is strict: unknown fields, unknown permissions, duplicate users,
/// missing passwords and malformed hashes are refused, each naming the entry and the fix.
public struct AuthFile: Sendable, Hashable {
    /// The user name that stands for every caller.
    public static let anyone = "*"
    /// Most entries read.
    public static let maxUsers = 10_000

    /// Where the file was read from (for messages).
    public var path: String
    public var users: [AuthUser]

    public init(path: String, users: [AuthUser]) {
        self.path = path
        self.users = users
    }

    /// The entry for `username`, if any.
    public func user(_ username: String) -> AuthUser? { users.first { $0.username == username } }

    /// What every caller may do (the `"*"` entry).
    public var anonymousPermissions: Set<Permission> { user(Self.anyone)?.permissions ?? [] }

    // MARK: Parsing

    /// Reads the file's bytes; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws(AuthFileError) -> AuthFile {
        let root: JSONValue
        do throws(JSONParseError) {
            root = try JSONValue.parse(bytes)
        } catch {
            throw AuthFileError(path: path, entry: nil, "is not valid JSON: \(error)",
                                fix: #"write a JSON array such as [{"username":"admin","password":"…","perms":["all"]}]"#)
        }
        guard let entries = root.arrayValue else {
            throw AuthFileError(path: path, entry: nil, "must be a JSON array of users, found \(root.kindDescription)",
                                fix: #"write [{"username":"…","password":"…","perms":["…"]}, …]"#)
        }
        guard entries.count <= maxUsers else {
            throw AuthFileError(path: path, entry: nil, "has \(entries.count) entries; at most \(maxUsers) are read",
                                fix: "keep fewer users")
        }
        var users: [AuthUser] = []
        var seen: [String: Int] = [:]
        for (index, entry) in entries.enumerated() {
            let user = try parseUser(entry, index: index, path: path)
            if let first = seen[user.username] {
                throw AuthFileError(path: path, entry: (index, user.username), "repeats user \(user.username.debugDescription) (entry \(first + 1))",
                                    fix: "keep one entry per user and merge their perms")
            }
            seen[user.username] = index
            users.append(user)
        }
        return AuthFile(path: path, users: users)
    }

    private static func parseUser(_ value: JSONValue, index: Int, path: String) throws(AuthFileError) -> AuthUser {
        func failure(_ name: String?, _ problem: String, fix: String) -> AuthFileError {
            AuthFileError(path: path, entry: (index, name), problem, fix: fix)
        }
        guard let object = value.objectValue else {
            throw failure(nil, "must be an object, found \(value.kindDescription)", fix: #"write {"username":"…","password":"…","perms":["…"]}"#)
        }
        let known: Set<String> = ["username", "password", "perms"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw failure(object["username"]?.stringValue, "has an unknown field \(unknown.debugDescription)",
                          fix: "use only \"username\", \"password\" and \"perms\"")
        }
        guard let username = object["username"]?.stringValue, !username.isEmpty, !username.contains(":"),
              username.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        else {
            throw failure(nil, "needs \"username\": a non-empty string without ':' or control characters",
                          fix: #"add "username":"<name>" (or "*" for every caller)"#)
        }
        var password: StoredPassword?
        switch object["password"] {
        case .string(let text)?:
            guard username != anyone else {
                throw failure(username, "\"*\" stands for every caller and takes no password", fix: "remove its \"password\"")
            }
            guard !text.isEmpty else {
                throw failure(username, "has an empty \"password\"", fix: "set a password, or a hash from discoctl hash-password")
            }
            do throws(StoredPasswordError) {
                password = try StoredPassword(parsing: text)
            } catch {
                throw failure(username, "\"password\": \(error.message)", fix: "make a new hash with discoctl hash-password")
            }
        case nil, .null?:
            guard username == anyone else {
                throw failure(username, "has no \"password\"", fix: "set \"password\" (plain, or a hash from discoctl hash-password)")
            }
        case let other?:
            throw failure(username, "\"password\" must be a string, found \(other.kindDescription)", fix: "quote the password")
        }
        guard let perms = object["perms"]?.arrayValue else {
            throw failure(username, "needs \"perms\": an array of permission names",
                          fix: #"add "perms":["…"] with some of "# + Permission.list)
        }
        var permissions: Set<Permission> = []
        for perm in perms {
            guard let name = perm.stringValue, let permission = Permission(rawValue: name) else {
                let shown = perm.stringValue.map(\.debugDescription) ?? perm.kindDescription
                throw failure(username, "\"perms\" has an unknown permission \(shown)", fix: "use only \(Permission.list)")
            }
            permissions.insert(permission)
        }
        return AuthUser(username: username, password: password, permissions: permissions)
    }
}

// MARK: - AuthFileError

/// Why the `-auth` file cannot be used: the file, the entry (1-based, with its user name when
/// known), what is wrong and how to fix it.
public struct AuthFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public let path: String
    /// The 1-based entry number, if the problem is in one entry.
    public let entry: Int?
    public let username: String?
    public let problem: String
    public let fix: String

    public init(path: String, entry: (index: Int, username: String?)?, _ problem: String, fix: String) {
        self.path = path
        self.entry = entry.map { $0.index + 1 }
        username = entry?.username
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        var where_ = "auth file \(path.debugDescription)"
        if let entry { where_ += ", entry \(entry)" + (username.map { " (\($0.debugDescription))" } ?? "") }
        return "\(where_): \(problem); \(fix)"
    }
}
