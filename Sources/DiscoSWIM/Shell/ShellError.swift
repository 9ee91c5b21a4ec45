// MARK: - ShellError

extension SWIM {
    /// Why the shell could not do what was asked; `description` names what failed and why.
    public struct ShellError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The kind of failure; extensible.
        public struct Code: Hashable, Sendable, CustomStringConvertible {
            let name: String
            public var description: String { name }
            /// The UDP socket or TCP listener could not be bound.
            public static let bindFailed = Code(name: "bind failed")
            /// No seed answered a join.
            public static let joinFailed = Code(name: "join failed")
            /// A push-pull exchange failed (connect, I/O, timeout, or a malformed answer).
            public static let pushPullFailed = Code(name: "push-pull failed")
            /// The other member refused our push-pull state: it could not open it, or the sealing
            /// did not match what it requires.
            public static let pushPullRefused = Code(name: "push-pull refused")
            /// A push-pull answer came labelled with another cluster's name.
            public static let otherCluster = Code(name: "other cluster")
            /// The shell has been shut down.
            public static let shutDown = Code(name: "shut down")
            /// A keyring was given to a shell that runs without gossip encryption.
            public static let encryptionOff = Code(name: "encryption off")
            /// An operation ran out of time.
            public static let timedOut = Code(name: "timed out")
        }

        public let code: Code
        /// What failed, naming addresses and causes.
        public let detail: String

        public init(_ code: Code, _ detail: String) {
            self.code = code
            self.detail = detail
        }

        public var description: String { "SWIM shell \(code): \(detail)" }
    }
}

// MARK: - Deadlines

/// Runs `operation`, throwing ``SWIM/ShellError/Code/timedOut`` when it takes longer than
/// `timeout`; the operation is then cancelled (socket operations close their socket on
/// cancellation, so nothing lingers).
func withTimeout<T: Sendable>(
    _ timeout: Duration, _ what: String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw SWIM.ShellError(.timedOut, "\(what) took longer than \(timeout)")
        }
        return value
    }
}
