import DiscoCore
import DiscoSWIM
import DiscoSystem
import DiscoTestKit
import Foundation
import Synchronization
import Testing

// MARK: - Keyring files: loading, reloading, polling

@Suite struct GossipKeyringFileTests {
    static let one = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
    static let two = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="

    let logger = Logger(label: "keyring", level: .critical, handler: LogfmtHandler())

    /// A keyring file in a fresh directory, removed afterwards.
    func withKeyringFile(_ text: String, _ body: (String) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "disco-keyring-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/keyring.json"
        try write(text, to: path)
        try await body(path)
    }

    /// Replaces the file the way Kubernetes and editors do: a new file renamed over the old.
    func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    @Test func reloadInstallsNewContentsAndKeepsTheOldOnBadOnes() async throws {
        try await withKeyringFile(#"{"primary": "\#(Self.one)"}"#) { path in
            let file = try SWIM.GossipKeyringFile(path: path, logger: logger)
            #expect(file.keyring.primary.bytes.first == 1)
            let installed = Mutex<[GossipKeyring]>([])
            file.onReload { keyring in installed.withLock { $0.append(keyring) } }

            #expect(file.reload(trigger: "test") == .unchanged)
            try write(#"{"primary": "\#(Self.two)", "accepted": ["\#(Self.one)"]}"#, to: path)
            guard case .installed(let rotated) = file.reload(trigger: "test") else {
                Issue.record("a changed file was not installed")
                return
            }
            #expect(rotated.primary.bytes.first == 2 && rotated.accepted.count == 1)
            #expect(installed.withLock { $0 } == [rotated])

            try write(#"{"primary": "short"}"#, to: path)
            guard case .failed(let reason) = file.reload(trigger: "test") else {
                Issue.record("a bad file was installed")
                return
            }
            #expect(reason.contains(path) && reason.contains("field \"primary\""))
            #expect(file.keyring == rotated)
            try FileManager.default.removeItem(atPath: path)
            guard case .failed(let missing) = file.reload(trigger: "test") else {
                Issue.record("a missing file was not reported")
                return
            }
            #expect(missing.contains("does not exist"))
            #expect(file.counters.reloads == 1 && file.counters.failures == 2)
            #expect(installed.withLock { $0.count } == 1)
        }
    }

    /// Invalid contents are refused once: asked again (a signal after the poller, or the poller
    /// every interval) they are reported as still refused, not parsed, counted or logged as an
    /// error again. After a good file, the same invalid contents count again.
    @Test func invalidContentsAreRefusedOnceUntilTheFileChanges() async throws {
        try await withKeyringFile(#"{"primary": "\#(Self.one)"}"#) { path in
            let file = try SWIM.GossipKeyringFile(path: path, logger: logger)
            let broken = #"{"primary": "not a key"}"#
            try write(broken, to: path)
            guard case .failed(let first) = file.reload(trigger: "test"), case .failed(let again) = file.reload(trigger: "test") else {
                Issue.record("invalid contents were installed")
                return
            }
            #expect(again == first)
            #expect(file.counters.failures == 1)
            try write(#"{"primary": "\#(Self.two)"}"#, to: path)
            guard case .installed = file.reload(trigger: "test") else {
                Issue.record("a good file was not installed")
                return
            }
            try write(broken, to: path)
            guard case .failed = file.reload(trigger: "test") else {
                Issue.record("invalid contents were installed")
                return
            }
            #expect(file.counters.failures == 2 && file.counters.reloads == 1)
            #expect(file.keyring.primary.bytes.first == 2)
        }
    }

    @Test func anInstallerThatRefusesLeavesTheKeyringAsItWas() async throws {
        try await withKeyringFile(#"["\#(Self.one)"]"#) { path in
            let file = try SWIM.GossipKeyringFile(path: path, logger: logger)
            struct Refused: Error {}
            file.onReload { _ in throw Refused() }
            try write(#"["\#(Self.two)"]"#, to: path)
            guard case .failed = file.reload(trigger: "test") else {
                Issue.record("a refused keyring counted as installed")
                return
            }
            #expect(file.keyring.primary.bytes.first == 1)
        }
    }

    @Test func pollingPicksUpAReplacedFile() async throws {
        try await withKeyringFile(#"{"primary": "\#(Self.one)"}"#) { path in
            let file = try SWIM.GossipKeyringFile(path: path, logger: logger)
            file.startPolling(every: .milliseconds(20))
            defer { file.stop() }
            try write(#"{"primary": "\#(Self.two)"}"#, to: path)
            try await waitUntil("the poller to install the new keyring") { file.keyring.primary.bytes.first == 2 }
            #expect(file.counters.reloads == 1)
        }
    }

    @Test func aMissingOrBadFileAtStartNamesIt() throws {
        let error = #expect(throws: ConfigError.self) { _ = try SWIM.GossipKeyringFile(path: "/nonexistent/keyring.json", logger: logger) }
        #expect(error?.message.contains("\"/nonexistent/keyring.json\" does not exist") == true)
    }
}
