import DiscoCore
import DiscoSystem
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Synchronization
import Testing

// MARK: - Shells on loopback

/// Shells started for one test, always shut down at the end (also when the test fails).
final class ShellGroup: Sendable {
    private let shells = Mutex<[SWIM.Shell]>([])

    /// Starts a shell named `name` on 127.0.0.1 (port 0: chosen by the OS).
    func start(_ name: String, port: UInt16 = 0, settings: SWIM.Settings = .testing,
               metadata: SWIM.Metadata = SWIM.Metadata(), encryption: SWIM.GossipEncryption? = nil,
               logLevel: Logger.Level = .error,
               configure: (inout SWIM.Shell.Configuration) -> Void = { _ in }) async throws -> SWIM.Shell {
        var configuration = SWIM.Shell.Configuration(
            id: NodeID(stringLiteral: name), port: port, metadata: metadata, settings: settings,
            logger: Logger(label: "swim", level: logLevel, handler: LogfmtHandler()))
        // Generous: it bounds a hang; a join's push-pull on a loaded machine can take seconds.
        configuration.pushPullTimeout = .seconds(30)
        configuration.encryption = encryption
        configure(&configuration)
        let shell = try await SWIM.Shell.start(configuration)
        shells.withLock { $0.append(shell) }
        return shell
    }

    /// Starts `count` shells named `prefix0`, `prefix1`, ... and joins all but the first through
    /// the first.
    func startJoined(_ count: Int, prefix: String, settings: SWIM.Settings = .testing,
                     encryption: SWIM.GossipEncryption? = nil) async throws -> [SWIM.Shell] {
        var started: [SWIM.Shell] = []
        for index in 0..<count {
            let shell = try await start("\(prefix)\(index)", settings: settings, encryption: encryption)
            if let first = started.first { try await shell.join(seeds: [first.address]) }
            started.append(shell)
        }
        return started
    }

    func shutdownAll() async {
        for shell in shells.withLock({ $0 }) { await shell.shutdown() }
    }
}

/// Runs `body` with a fresh ``ShellGroup`` and shuts every shell down afterwards.
func withShells(_ body: (ShellGroup) async throws -> Void) async throws {
    let group = ShellGroup()
    do {
        try await body(group)
    } catch {
        await group.shutdownAll()
        throw error
    }
    await group.shutdownAll()
}

// MARK: - Conditions

/// Whether `shell` sees exactly `expected` as alive and no other member as live.
func sees(_ shell: SWIM.Shell, alive expected: [SWIM.Shell]) async -> Bool {
    let members = await shell.members
    let alive = Set(members.filter { $0.status == .alive }.map(\.id))
    let live = Set(members.filter { $0.status.isLive }.map(\.id))
    let wanted = Set(expected.map(\.id))
    return alive == wanted && live == wanted
}

/// Waits until every shell in `shells` sees exactly `shells` alive.
func waitForConvergence(_ shells: [SWIM.Shell], timeout: Duration = .seconds(30)) async throws {
    try await waitUntil("\(shells.count) shells to see each other alive", timeout: timeout) {
        for shell in shells where !(await sees(shell, alive: shells)) { return false }
        return true
    }
}

/// Waits until every shell in `observers` records `subject` with `status`.
func waitForStatus(_ observers: [SWIM.Shell], see subject: NodeID, as status: SWIM.MemberStatus,
               timeout: Duration = .seconds(30)) async throws {
    try await waitUntil("\(observers.count) shells to see \(subject) \(status)", timeout: timeout) {
        for observer in observers where await observer.member(subject)?.status != status { return false }
        return true
    }
}

/// Collects a shell's member events as they arrive.
final class EventRecorder: Sendable {
    final class Storage: Sendable {
        let events = Mutex<[SWIM.MemberEvent]>([])
    }

    private let storage: Storage
    private let task: Task<Void, Never>

    init(_ shell: SWIM.Shell) {
        let storage = Storage()
        self.storage = storage
        task = Task {
            for await event in shell.events { storage.events.withLock { $0.append(event) } }
        }
    }

    deinit { task.cancel() }

    var recorded: [SWIM.MemberEvent] { storage.events.withLock { $0 } }

    /// Names of the events recorded about `member`, in order.
    func names(about member: NodeID) -> [String] {
        recorded.filter { $0.member.id == member }.map(\.name)
    }
}
