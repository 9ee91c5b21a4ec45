import DiscoCore
import DiscoSystem

// MARK: - Data directory lock

extension FileLock {
    /// The exclusive lock on `<data-dir>/lock`, held while a node runs, so two nodes (in one
    /// process or two) never write the same WAL.
    static func dataDirectory(_ directory: String) throws(RaftShellError) -> FileLock {
        do {
            return try FileLock(path: directory + "/lock")
        } catch {
            throw RaftShellError(.storage, error.heldElsewhere
                ? "cannot lock \(error.path): another node" + (error.holder.map { " (process \($0))" } ?? "")
                    + " is using this data directory" : error.description)
        }
    }
}
