import DiscoAuth
import DiscoCore
import DiscoSystem

// MARK: - Credentials for the node's API

/// `-user` and `-password`, with `DISCO_USER` and `DISCO_PASSWORD` as their fallbacks: the HTTP
/// basic-auth credentials a client program (discoctl) sends on every request to a node started
/// with `-auth`. The environment keeps a password out of `ps` and shell history.
public struct ClientCredentialFlags: Sendable {
    public static let userVariable = "DISCO_USER"
    public static let passwordVariable = "DISCO_PASSWORD"

    public let user: Flag<String>
    public let password: Flag<String>

    /// Declares the two flags in `set`.
    public init(_ set: inout FlagSet) {
        user = set.string("user", usage: "User name for HTTP basic auth on every request (or \(Self.userVariable))",
                          typeName: "name")
        password = set.string(
            "password", usage: "Password for -user (or \(Self.passwordVariable), which keeps it out of ps and shell history)",
            typeName: "password")
    }

    /// The credentials from the flags' values (nil: not given), else the environment (an empty
    /// `DISCO_USER` counts as unset); nil when neither names a user or a password. A password
    /// without a user, a user without a password and a user with `:` are refused, naming what
    /// to give instead.
    public func resolve(user: String?, password: String?,
                        environment: (String) -> String? = ProcessEnvironment.value) throws(FlagError) -> BasicCredentials? {
        try Self.credentials(
            user: user ?? environment(Self.userVariable).flatMap { $0.isEmpty ? nil : $0 },
            password: password.map { ($0, "-password") } ?? environment(Self.passwordVariable).map { ($0, Self.passwordVariable) })
    }

    /// Credentials from a user and a password with where it came from (`-password` or the
    /// environment variable).
    static func credentials(user: String?, password: (value: String, source: String)?) throws(FlagError) -> BasicCredentials? {
        switch (user, password) {
        case (nil, nil):
            return nil
        case (nil, let password?):
            var message = "\(password.source) is given but no user: give -user NAME (or \(userVariable)) with it"
            if password.source == passwordVariable { message += ", or unset \(passwordVariable)" }
            throw FlagError.conflict("password", message)
        case (let user?, nil):
            throw FlagError.conflict("user", "-user \(user) needs a password: -password, or \(passwordVariable) "
                + "in the environment (which keeps it out of ps)")
        case (let user?, let password?):
            guard !user.isEmpty else {
                throw FlagError.invalid("user", "the user name is empty; give -user NAME or set \(userVariable)")
            }
            guard !user.contains(":") else {
                throw FlagError.invalid("user", "\(user.debugDescription) contains ':', which HTTP basic auth cannot carry in a user name")
            }
            return BasicCredentials(username: user, password: password.value)
        }
    }
}
