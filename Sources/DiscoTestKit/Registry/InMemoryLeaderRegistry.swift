import DiscoCore
import Synchronization

// MARK: - InMemoryLeaderStore

/// A KV store holding one leader record per key, with TTL sessions, for tests and simulations.
///
/// Semantics follow the real backends: create-if-absent, compare-and-set on a monotonically
/// increasing version, and records that vanish when the session that wrote them is not renewed
/// within its TTL. Time comes from an injected clock so tests can advance it by hand.
public final class InMemoryLeaderStore: Sendable {
    struct Entry {
        var record: LeaderRecord
        var version: UInt64
        var session: UInt64
    }

    struct Session {
        var expiresAt: Duration
    }

    struct State {
        var entries: [String: Entry] = [:]
        var sessions: [UInt64: Session] = [:]
        var nextVersion: UInt64 = 1
        var nextSession: UInt64 = 1
    }

    let state = Mutex(State())
    let now: @Sendable () -> Duration

    /// - Parameter now: the current time as a duration since any fixed origin. Defaults to the
    ///   process's monotonic clock.
    public init(now: (@Sendable () -> Duration)? = nil) {
        if let now {
            self.now = now
        } else {
            let origin = ContinuousClock.now
            self.now = { ContinuousClock.now - origin }
        }
    }

    /// Drops expired sessions and the records they held. Call with the lock held.
    func expire(_ state: inout State, at time: Duration) {
        let dead = Set(state.sessions.filter { $0.value.expiresAt <= time }.keys)
        guard !dead.isEmpty else { return }
        for id in dead { state.sessions[id] = nil }
        state.entries = state.entries.filter { !dead.contains($0.value.session) }
    }

    /// The record under `key` right now, if any.
    public func record(forKey key: String) -> VersionedLeaderRecord? {
        let time = now()
        return state.withLock { state in
            expire(&state, at: time)
            return state.entries[key].map { VersionedLeaderRecord(record: $0.record, version: $0.version) }
        }
    }
}

// MARK: - InMemoryLeaderRegistry

/// A ``LeaderRegistry`` over an ``InMemoryLeaderStore``; each instance owns one session.
public final class InMemoryLeaderRegistry: LeaderRegistry {
    public let store: InMemoryLeaderStore
    public let key: String
    public let ttl: Duration
    private let session = Mutex<UInt64?>(nil)

    public init(store: InMemoryLeaderStore, key: String, ttl: Duration = .seconds(10)) {
        self.store = store
        self.key = key
        self.ttl = ttl
    }

    public var name: String { "memory key \(key)" }

    public func read() async throws -> VersionedLeaderRecord? { store.record(forKey: key) }

    private func currentSession(_ state: inout InMemoryLeaderStore.State, at time: Duration) -> UInt64 {
        if let id = session.withLock({ $0 }), state.sessions[id] != nil { return id }
        let id = state.nextSession
        state.nextSession += 1
        state.sessions[id] = .init(expiresAt: time + ttl)
        session.withLock { $0 = id }
        return id
    }

    public func createIfAbsent(_ record: LeaderRecord) async throws -> LeaderClaim {
        let time = store.now()
        return store.state.withLock { state in
            store.expire(&state, at: time)
            if let entry = state.entries[key] {
                return .existing(VersionedLeaderRecord(record: entry.record, version: entry.version))
            }
            let sessionID = currentSession(&state, at: time)
            let version = state.nextVersion
            state.nextVersion += 1
            state.entries[key] = .init(record: record, version: version, session: sessionID)
            return .created(VersionedLeaderRecord(record: record, version: version))
        }
    }

    public func update(_ record: LeaderRecord, expectedVersion: UInt64) async throws -> VersionedLeaderRecord? {
        let time = store.now()
        return store.state.withLock { state in
            store.expire(&state, at: time)
            guard let entry = state.entries[key], entry.version == expectedVersion else { return nil }
            let sessionID = currentSession(&state, at: time)
            let version = state.nextVersion
            state.nextVersion += 1
            state.entries[key] = .init(record: record, version: version, session: sessionID)
            return VersionedLeaderRecord(record: record, version: version)
        }
    }

    public func renew() async throws {
        let time = store.now()
        try store.state.withLock { state in
            store.expire(&state, at: time)
            guard let id = session.withLock({ $0 }) else { return }
            guard state.sessions[id] != nil else {
                session.withLock { $0 = nil }
                throw LeaderRegistryError(registry: name, message: "session \(id) expired before it was renewed")
            }
            state.sessions[id]?.expiresAt = time + ttl
        }
    }

    public func holds(_ record: VersionedLeaderRecord) async throws -> Bool {
        let time = store.now()
        return store.state.withLock { state in
            store.expire(&state, at: time)
            guard let id = session.withLock({ $0 }), let entry = state.entries[key] else { return false }
            return entry.session == id && entry.version == record.version
        }
    }

    public func release() async throws {
        store.state.withLock { state in
            guard let id = session.withLock({ $0 }) else { return }
            state.sessions[id] = nil
            state.entries = state.entries.filter { $0.value.session != id }
            session.withLock { $0 = nil }
        }
    }

    public func watch(after version: UInt64?, timeout: Duration) async throws -> VersionedLeaderRecord? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let current = store.record(forKey: key)
            if current?.version != version || ContinuousClock.now >= deadline { return current }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
