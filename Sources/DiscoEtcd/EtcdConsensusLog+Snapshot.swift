import DiscoCore
import Foundation
import Synchronization

// MARK: - Chunked snapshot manifest

/// `snapshot-chunks`' value: a snapshot too large for one etcd request, stored in `count`
/// chunks under `snapshot-chunk/<index>/`, `size` bytes in all.
struct EtcdSnapshotManifest: Sendable, Hashable {
    var index: UInt64
    var count: Int
    var size: Int

    var bytes: [UInt8] {
        let object: [String: Any] = ["index": String(index), "chunks": count, "bytes": size]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map(Array.init) ?? []
    }

    init(index: UInt64, count: Int, size: Int) {
        self.index = index
        self.count = count
        self.size = size
    }

    init?(bytes: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any],
              let text = object["index"] as? String, let index = UInt64(text),
              let count = object["chunks"] as? Int, let size = object["bytes"] as? Int, count > 0, size >= 0 else { return nil }
        self.init(index: index, count: count, size: size)
    }
}

// MARK: - Writing and reading snapshots

extension EtcdConsensusLog {
    /// Stores the state as of `index` and deletes the log keys it covers, fenced by leadership
    /// and by the epoch of the cluster whose state it is.
    /// A snapshot larger than one etcd request allows (``Configuration/maxBatchBytes``) is
    /// written in chunks first; one transaction then points at them and trims the log.
    func writeSnapshot(at index: UInt64) async throws(EtcdError) {
        guard let (leadership, epoch) = state.withLock({ state in state.leadership.map { ($0, state.epoch ?? state.clusterRevision ?? 0) } }) else { return }
        let fence = [leadership.fence, EtcdCompare(keys.cluster, .createRevision(epoch))]
        let value = EtcdSnapshotValue(index: index, state: applier.snapshot()).bytes
        let chunkSize = max(1, configuration.maxBatchBytes)
        var switchOver: [EtcdOp]
        if value.count <= chunkSize {
            switchOver = [.put(key: keys.snapshot, value: value), .delete(key: keys.snapshotManifest),
                          .delete(key: keys.snapshotChunkPrefix, prefix: true)]
        } else {
            let starts = Array(stride(from: 0, to: value.count, by: chunkSize))
            for (number, start) in starts.enumerated() {
                let chunk = Array(value[start..<min(start + chunkSize, value.count)])
                let written = try await client.txn(EtcdTxn(compare: fence,
                                                           success: [.put(key: keys.snapshotChunk(index, number), value: chunk)]),
                                                   operation: "snapshot chunk \(number) of \(starts.count) at \(index)")
                guard written.succeeded else { return }
            }
            let manifest = EtcdSnapshotManifest(index: index, count: starts.count, size: value.count)
            switchOver = [.put(key: keys.snapshotManifest, value: manifest.bytes), .delete(key: keys.snapshot),
                          .deleteRange(from: keys.snapshotChunkPrefix, to: keys.snapshotChunk(index, nil))]
        }
        let result = try await client.txn(EtcdTxn(compare: fence,
                                                  success: switchOver + [.deleteRange(from: keys.log(0), to: keys.log(index + 1))]),
                                          operation: "snapshot at \(index)")
        if result.succeeded { state.withLock { $0.snapshotIndex = index } }
    }

    /// The snapshot among `kvs` (every key under the root, read at one revision): the
    /// `snapshot` key, or the chunks `snapshot-chunks` describes.
    func storedSnapshot(in kvs: [EtcdKeyValue]) throws(EtcdError) -> EtcdSnapshotValue? {
        if let single = kvs.first(where: { $0.key == keys.snapshot }) { return EtcdSnapshotValue(bytes: single.value) }
        guard let record = kvs.first(where: { $0.key == keys.snapshotManifest }) else { return nil }
        guard let manifest = EtcdSnapshotManifest(bytes: record.value) else {
            throw EtcdError(.malformed, endpoint: client.endpointList, operation: "read \(keys.snapshotManifest)",
                            message: "not a snapshot manifest: \(record.text.prefix(200))")
        }
        let prefix = keys.snapshotChunk(manifest.index, nil)
        let chunks = kvs.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
        let value = chunks.flatMap(\.value)
        guard chunks.count == manifest.count, value.count == manifest.size, let snapshot = EtcdSnapshotValue(bytes: value) else {
            throw EtcdError(.malformed, endpoint: client.endpointList, operation: "read \(prefix)*",
                            message: "the snapshot at \(manifest.index) has \(chunks.count) chunks of \(value.count) bytes; "
                                + "\(keys.snapshotManifest) names \(manifest.count) of \(manifest.size) bytes")
        }
        return snapshot
    }
}
