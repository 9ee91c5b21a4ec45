import DiscoCore
import DiscoLifecycle
import DiscoSystem
import Synchronization

// MARK: - Test services

/// What the test services did, in order.
final class Journal: Sendable {
    private let entries = Mutex<[String]>([])

    func record(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
    func contains(_ entry: String) -> Bool { all.contains(entry) }
}

/// Waits for the graceful shutdown, records it, then takes `drain` steps (each a yield) before
/// returning; or throws `failure` when told to fail.
struct PoliteService: Service {
    let name: String
    let journal: Journal

    func run() async throws {
        journal.record("start \(name)")
        do {
            try await gracefulShutdown()
            journal.record("stop \(name)")
        } catch {
            journal.record("cancelled \(name)")
            throw error
        }
    }
}

/// Notes the graceful shutdown request but ignores it; returns only when cancelled.
struct StubbornService: Service {
    let name: String
    let journal: Journal

    func run() async throws {
        journal.record("start \(name)")
        let never = AsyncStream<Int> { _ in }
        await withGracefulShutdownHandler {
            for await _ in never {}
        } onGracefulShutdown: { [journal, name] in
            journal.record("asked \(name)")
        }
        journal.record("cancelled \(name)")
        throw CancellationError()
    }
}

/// Fails once `trigger` is set.
struct FailingService: Service {
    struct Failure: Error, Equatable, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    let name: String
    let journal: Journal
    let go: AsyncStream<Void>

    func run() async throws {
        journal.record("start \(name)")
        for await _ in go { break }
        journal.record("fail \(name)")
        throw Failure(reason: "\(name) broke")
    }
}

let quietLogger = Logger(label: "test", level: .critical, handler: LogfmtHandler(sink: MemoryLogSink()))
