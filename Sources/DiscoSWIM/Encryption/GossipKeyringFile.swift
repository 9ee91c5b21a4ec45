import DiscoCore
import DiscoSystem
import Synchronization

// MARK: - Keyring file

extension SWIM {
    /// A gossip keyring kept in a file (see ``GossipKeyring`` for the format), installed into a
    /// shell at start and again whenever the file changes: on ``reload(trigger:)`` (discod calls
    /// it on SIGHUP) and when polling finds new contents (a Kubernetes secret being updated).
    ///
    /// A file that cannot be read or parsed leaves the keyring in use untouched; the reason is
    /// logged and counted. Key bytes are never logged, only fingerprints.
    public final class GossipKeyringFile: Sendable {
        /// What a reload did.
        public enum Outcome: Sendable, Hashable {
            /// New contents, installed.
            case installed(GossipKeyring)
            /// The file holds the keyring already in use.
            case unchanged
            /// The file could not be read or parsed; the old keyring stays.
            case failed(String)
        }

        /// Reloads so far: installed, and refused as unreadable or invalid.
        public struct Counters: Sendable, Hashable {
            public var reloads = 0
            public var failures = 0
        }

        private struct State: Sendable {
            var contents: [UInt8]
            var keyring: GossipKeyring
            var installer: (@Sendable (GossipKeyring) throws -> Void)?
            var counters = Counters()
            var poller: Task<Void, Never>?
            /// Contents refused as invalid, and why: asked again, they are not parsed, counted or
            /// logged as an error again (the poller would otherwise refuse them every interval).
            var invalid: (contents: [UInt8], reason: String)?
        }

        public let path: String
        private let logger: Logger
        private let state: Mutex<State>
        /// Held for a whole reload, so a signal and the poller cannot install out of order.
        private let reloading = Mutex(())

        /// Reads and parses the keyring in `path`; the error names the file and what is wrong.
        public init(path: String, logger: Logger) throws(ConfigError) {
            let contents = try Self.read(path)
            let keyring = try Self.parse(contents, path: path)
            self.path = path
            self.logger = logger
            state = Mutex(State(contents: contents, keyring: keyring))
        }

        deinit { state.withLock { $0.poller?.cancel() } }

        /// The keyring the file held at the last successful (re)load.
        public var keyring: GossipKeyring { state.withLock { $0.keyring } }

        /// Sets what puts a reloaded keyring to use (for example
        /// ``SWIM/Shell/installKeyring(_:)``); until then reloads only update ``keyring``.
        public func onReload(_ install: @escaping @Sendable (GossipKeyring) throws -> Void) {
            state.withLock { $0.installer = install }
        }

        public var counters: Counters { state.withLock { $0.counters } }

        // MARK: Reloading

        /// Reads the file and installs its keyring when the contents changed. `trigger` says why
        /// in the log (`SIGHUP`, `file changed`).
        @discardableResult
        public func reload(trigger: String) -> Outcome {
            reloading.withLock { _ in reloadLocked(trigger: trigger) }
        }

        private func reloadLocked(trigger: String) -> Outcome {
            let contents: [UInt8]
            let keyring: GossipKeyring
            do throws(ConfigError) {
                contents = try Self.read(path)
                if contents == state.withLock({ $0.contents }) {
                    logger.info("gossip keyring file unchanged", metadata: ["path": "\(path)", "trigger": "\(trigger)"])
                    return .unchanged
                }
                if let invalid = state.withLock({ $0.invalid }), invalid.contents == contents {
                    logger.warning("gossip keyring file unchanged since it was refused; the keys in use stay", metadata: [
                        "path": "\(path)", "trigger": "\(trigger)", "error": "\(invalid.reason)",
                    ])
                    return .failed(invalid.reason)
                }
            } catch {
                return failed(error.message, trigger: trigger)
            }
            do throws(ConfigError) {
                keyring = try Self.parse(contents, path: path)
            } catch {
                state.withLock { $0.invalid = (contents, error.message) }
                return failed(error.message, trigger: trigger)
            }
            do {
                try state.withLock { $0.installer }?(keyring)
            } catch {
                return failed("\(error)", trigger: trigger)
            }
            state.withLock {
                $0.contents = contents
                $0.keyring = keyring
                $0.invalid = nil
                $0.counters.reloads += 1
            }
            logger.info("gossip keyring reloaded", metadata: ["path": "\(path)", "trigger": "\(trigger)", "keys": "\(keyring.fingerprints)"])
            return .installed(keyring)
        }

        private func failed(_ reason: String, trigger: String) -> Outcome {
            state.withLock { $0.counters.failures += 1 }
            logger.error("gossip keyring not reloaded; the keys in use stay", metadata: [
                "path": "\(path)", "trigger": "\(trigger)", "error": "\(reason)",
            ])
            return .failed(reason)
        }

        // MARK: Polling

        /// Checks the file every `interval` and reloads it when its contents change, until
        /// ``stop()``. The polling task belongs to this object.
        public func startPolling(every interval: Duration) {
            let task = Task { [weak self] in
                while !Task.isCancelled {
                    do { try await Task.sleep(for: interval) } catch { return }
                    guard let self else { return }
                    self.pollOnce()
                }
            }
            let previous = state.withLock { state -> Task<Void, Never>? in
                defer { state.poller = task }
                return state.poller
            }
            previous?.cancel()
        }

        /// Stops polling.
        public func stop() {
            state.withLock {
                $0.poller?.cancel()
                $0.poller = nil
            }
        }

        /// Reloads when the file's bytes differ from what was last installed and from what was
        /// last refused as invalid. A file that is briefly missing (replaced by a rename) is not
        /// an error until a reload is asked for.
        func pollOnce() {
            guard let contents = try? Self.read(path),
                  state.withLock({ contents != $0.contents && contents != $0.invalid?.contents }) else { return }
            reload(trigger: "file changed")
        }

        // MARK: Reading

        static func read(_ path: String) throws(ConfigError) -> [UInt8] {
            let bytes: [UInt8]?
            do throws(ProcessEnvironment.FileError) {
                bytes = try ProcessEnvironment.readFileIfExists(path, limit: 1 << 20)
            } catch {
                throw ConfigError(code: .unreadable, field: nil, message: "gossip keyring file: \(error)")
            }
            guard let bytes else {
                throw ConfigError(code: .unreadable, field: nil, message: "gossip keyring file \(path.debugDescription) does not exist")
            }
            return bytes
        }

        static func parse(_ bytes: [UInt8], path: String) throws(ConfigError) -> GossipKeyring {
            try GossipKeyring.parse(bytes, origin: "gossip keyring file \(path.debugDescription)")
        }
    }
}
