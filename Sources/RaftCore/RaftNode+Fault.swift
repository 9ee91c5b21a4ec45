import DiscoCore

// MARK: - Halting on a corrupt configuration entry

extension RaftNode {
    /// Decodes a configuration entry. One that cannot be decoded is never skipped: running on a
    /// guessed membership could let two leaders be elected, so the error stops the node.
    /// `origin` says where the entry came from (`storage`, `leader n1`) for the message.
    static func decodeConfig(_ entry: Entry, from origin: String) throws(RaftError) -> ClusterConfig {
        do {
            return try RaftCodec.decodeConfig(entry.data)
        } catch {
            throw RaftError(
                .corruptConfiguration,
                "configuration entry at index \(entry.index) (term \(entry.term)) from \(origin) cannot be decoded: "
                    + "\(error.message); stopping rather than guess the cluster's members")
        }
    }

    /// ``refreshConfig()`` for inputs that cannot throw: a failure halts the node.
    mutating func refreshConfigOrHalt() {
        do {
            try refreshConfig()
        } catch {
            halt(error)
        }
    }

    /// Stops the node: pending messages and reads are dropped, every later input is ignored and
    /// the next ``ready()`` hands `error` to the shell.
    mutating func halt(_ error: RaftError) {
        guard fault == nil else { return }
        fault = error
        outbox = []
        readStates = []
    }
}
