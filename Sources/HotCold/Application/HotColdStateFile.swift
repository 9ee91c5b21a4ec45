import DiscoCore
import DiscoSystem
import Dispatch

// MARK: - HotColdStateFile

/// `-hot-state-file`: the replica's state as one line of JSON (`{"state","token","since",
/// "group","node"}`), replaced atomically (DurableFile: temporary file, fsync, rename, fsync of
/// the directory) after every change, so a reader sees the old or the new content, never a mix.
///
/// The file says what the replica last decided; a process paused past its deadline cannot update
/// it. The fencing token on each request is what makes writes safe, not the file.
public struct HotColdStateFile: Sendable {
    public let path: String
    let logger: Logger
    let metrics: HotColdMetrics

    public init(path: String, logger: Logger, metrics: HotColdMetrics) {
        self.path = path
        self.logger = logger
        self.metrics = metrics
    }

    /// The file's content for `status`.
    public static func content(_ status: HotColdStatus) -> [UInt8] {
        status.stateFileJSON.encodedBytes() + [UInt8(ascii: "\n")]
    }

    /// Writes `status` (on a dispatch thread: fsync must not hold a cooperative thread).
    public func write(_ status: HotColdStatus) async {
        let path = path
        let bytes = Self.content(status)
        let failure = await withCheckedContinuation { (continuation: CheckedContinuation<DurableFile.Failure?, Never>) in
            DispatchQueue(label: "disco.hot-cold.state-file").async {
                do throws(DurableFile.Failure) {
                    try DurableFile.replace(path, with: bytes)
                    continuation.resume(returning: nil)
                } catch {
                    continuation.resume(returning: error)
                }
            }
        }
        metrics.recordStateFile(succeeded: failure == nil)
        if let failure {
            logger.error("cannot write -hot-state-file: \(failure)", metadata: ["path": "\(path)", "state": "\(status.state)"])
        }
    }

    /// Writes the latest status of `updates` until the stream ends (an update that arrives while a
    /// write is in progress replaces any other waiting one: the file only needs the newest).
    func run(_ updates: AsyncStream<HotColdStatus>) async {
        for await status in updates {
            await write(status)
        }
    }
}
