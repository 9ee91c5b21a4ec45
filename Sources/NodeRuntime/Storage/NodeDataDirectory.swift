import DiscoAuth
import DiscoCore
import DiscoSystem
import Foundation

// MARK: - NodeDataDirectory

/// The node's data directory, locked for the life of the process.
///
/// Layout:
/// ```
/// <data-dir>/node.lock                 exclusive flock while a node runs
/// <data-dir>/node.json                 identity: {"id":"…","created_ms":…}
/// <data-dir>/node-key                  the node's own secret (64 hex digits, mode 0600)
/// <data-dir>/generation                this start's generation (decimal), advanced at every start
/// <data-dir>/raft/                     Raft WAL segments, hard state, snapshot (own lock)
/// <data-dir>/bootstrap-promise.json    bootstrap-expect promise, kept until released
/// <data-dir>/removed.json              written when the node learns it was removed
/// <data-dir>/etcd-member.json          -consensus etcd: "joining" before a bootstrap or join, "member" once clustered
/// <data-dir>/raft.removed/             the Raft state of a removed node that joined again
/// ```
/// A node refuses a directory created by a node with another ID: Raft state belongs to one ID.
public final class NodeDataDirectory: Sendable {
    public let path: String
    public let nodeID: NodeID
    /// Whether `node.json` was created by this start (a brand-new node).
    public let isNew: Bool
    /// The node's own secret: made at its first start, it proves this node is the member with
    /// its ID when it comes back on other addresses (the cluster keeps only its hash).
    public let nodeKey: NodeKey
    /// This start's generation: above every earlier start's (it is persisted before the node
    /// describes itself to anyone), carried in the node's self-descriptions so the cluster never
    /// applies an older one over a newer one.
    public let generation: UInt64
    private let lock: FileLock

    public var raftDirectory: String { path + "/raft" }
    public var promisePath: String { path + "/bootstrap-promise.json" }
    public var identityPath: String { path + "/node.json" }
    public var nodeKeyPath: String { path + "/node-key" }
    public var generationPath: String { path + "/generation" }
    public var removalPath: String { path + "/removed.json" }
    public var setAsideRaftDirectory: String { path + "/raft.removed" }
    public var etcdMembershipPath: String { path + "/etcd-member.json" }

    /// Creates the directory if needed, takes the lock and checks or writes the identity.
    public init(path: String, nodeID: NodeID) throws(NodeStartupError) {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        self.path = absolute
        self.nodeID = nodeID
        do {
            try FileManager.default.createDirectory(atPath: absolute, withIntermediateDirectories: true)
        } catch {
            throw NodeStartupError("cannot create data directory \(absolute): \(error.localizedDescription)")
        }
        do {
            lock = try FileLock(path: absolute + "/node.lock")
        } catch {
            throw NodeStartupError("cannot lock data directory \(absolute): "
                + (error.heldElsewhere ? Self.heldMessage(error.holder) : error.reason))
        }
        isNew = try Self.checkIdentity(at: absolute + "/node.json", nodeID: nodeID)
        nodeKey = try Self.loadOrMakeKey(at: absolute + "/node-key")
        generation = try Self.advanceGeneration(at: absolute + "/generation")
    }

    /// Why a locked directory is refused: the process using it, and what to do.
    private static func heldMessage(_ holder: Int32?) -> String {
        "another node's process" + (holder.map { " (pid \($0))" } ?? "") + " is using this data directory; "
            + "stop it first, or give this node a data directory of its own"
    }

    /// Releases the directory's lock (the node has stopped): another node may open it now.
    public func release() { lock.release() }

    /// Reads the node key, or makes one (from libcrypto's random generator) at the first start.
    private static func loadOrMakeKey(at file: String) throws(NodeStartupError) -> NodeKey {
        if let bytes = FileManager.default.contents(atPath: file) {
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let key = NodeKey(hex: text) else {
                throw NodeStartupError("\(file) is not a node key (64 hexadecimal digits); restore it from a backup, or delete it to "
                    + "make a new one (the cluster then accepts this node on new addresses only with -auth credentials)")
            }
            return key
        }
        do {
            let key = try NodeKey.generate()
            try DurableFile.replace(file, with: Array((key.hex + "\n").utf8), mode: 0o600)
            return key
        } catch {
            throw NodeStartupError("cannot make the node key \(file): \(error)")
        }
    }

    /// Reads the previous start's generation and persists the next one: one above it, or the
    /// wall clock in milliseconds when that is larger, so a node whose directory was wiped and
    /// rebuilt still comes back with a generation above the one the cluster recorded.
    private static func advanceGeneration(at file: String) throws(NodeStartupError) -> UInt64 {
        var previous: UInt64 = 0
        if let bytes = FileManager.default.contents(atPath: file) {
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let value = UInt64(text), value < UInt64.max else {
                throw NodeStartupError("\(file) is not a generation (a decimal number below \(UInt64.max)), found \(text.prefix(40).debugDescription); "
                    + "delete it (the node then starts a generation from the clock)")
            }
            previous = value
        }
        let clock = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        let next = max(previous + 1, clock)
        do {
            try DurableFile.replace(file, with: Array("\(next)\n".utf8))
        } catch {
            throw NodeStartupError("cannot write the generation \(file): \(error)")
        }
        return next
    }

    /// Returns true when the identity file was just written.
    private static func checkIdentity(at file: String, nodeID: NodeID) throws(NodeStartupError) -> Bool {
        if let bytes = FileManager.default.contents(atPath: file) {
            guard let object = (try? JSONValue.parse(Array(bytes)))?.objectValue,
                  let id = object["id"]?.stringValue
            else {
                throw NodeStartupError("\(file) is not a node identity ({\"id\":\"…\"}); "
                    + "restore it or move the data directory away")
            }
            guard id == nodeID.rawValue else {
                throw NodeStartupError("data directory belongs to node \(id.debugDescription), not \(nodeID.rawValue.debugDescription); "
                    + "start with -node-id \(id) or use another data directory")
            }
            return false
        }
        let created = Int64(Date().timeIntervalSince1970 * 1000)
        let identity: JSONValue = ["id": .string(nodeID.rawValue), "created_ms": .number(JSONNumber(created))]
        do {
            try DurableFile.replace(file, with: identity.encodedBytes() + [0x0A])
        } catch {
            throw NodeStartupError("cannot write \(file): \(error)")
        }
        return true
    }
}

// MARK: - Removal record

extension NodeDataDirectory {
    /// Records that this node was removed from its cluster.
    func recordRemoval(_ record: JSONValue) throws(DurableFile.Failure) {
        try DurableFile.replace(removalPath, with: record.encodedBytes() + [0x0A])
    }

    /// The removal record, if this node was removed (an unreadable record counts as one).
    func removalRecord() -> JSONObject? {
        guard let bytes = FileManager.default.contents(atPath: removalPath) else { return nil }
        return (try? JSONValue.parse(Array(bytes)))?.objectValue ?? JSONObject()
    }

    /// Moves the Raft state of a removed node to `raft.removed` (replacing an older one) and
    /// deletes the removal record (and the etcd membership record), so the node starts empty and
    /// joins as a new member.
    func setAsideRaftStateAfterRemoval() throws {
        let files = FileManager.default
        if files.fileExists(atPath: setAsideRaftDirectory) { try files.removeItem(atPath: setAsideRaftDirectory) }
        if files.fileExists(atPath: raftDirectory) { try files.moveItem(atPath: raftDirectory, toPath: setAsideRaftDirectory) }
        try? files.removeItem(atPath: promisePath)
        try? files.removeItem(atPath: etcdMembershipPath)
        try files.removeItem(atPath: removalPath)
        try DurableFile.syncDirectory(path)
    }
}

// MARK: - NodeStartupError

/// Why a node could not start; the message says what to do.
public struct NodeStartupError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
