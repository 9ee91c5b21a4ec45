import Dispatch
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - UnixSignal

/// A signal a ``ServiceGroup`` can turn into a graceful shutdown or a cancellation.
public struct UnixSignal: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public let name: String

    private init(_ rawValue: Int32, _ name: String) {
        self.rawValue = rawValue
        self.name = name
    }

    public static let sigterm = UnixSignal(SIGTERM, "SIGTERM")
    public static let sigint = UnixSignal(SIGINT, "SIGINT")
    public static let sighup = UnixSignal(SIGHUP, "SIGHUP")
    public static let sigusr1 = UnixSignal(SIGUSR1, "SIGUSR1")
    public static let sigusr2 = UnixSignal(SIGUSR2, "SIGUSR2")
    public static let sigalrm = UnixSignal(SIGALRM, "SIGALRM")

    public var description: String { name }

    /// `signals` as they arrive, for signals a group does not handle (SIGHUP to reload): the
    /// sources are registered when this returns, and removed when the consumer stops.
    public static func stream(_ signals: [UnixSignal]) async -> AsyncStream<UnixSignal> {
        await UnixSignalStream.make(signals)
    }
}

// MARK: - Receiving signals

/// Signals as an async sequence, from Dispatch signal sources. Their default actions are
/// ignored from the first call on (a SIGTERM no longer kills the process) and stay ignored after
/// the stream ends: a process that handles its signals this way is about to exit then, and a
/// late second SIGTERM must not kill it with another status.
enum UnixSignalStream {
    /// Installs the sources and returns once they are registered, so a signal sent after this
    /// returns is delivered. The stream ends (and the sources go) when its consumer stops.
    static func make(_ signals: [UnixSignal]) async -> AsyncStream<UnixSignal> {
        let (stream, continuation) = AsyncStream.makeStream(of: UnixSignal.self, bufferingPolicy: .bufferingNewest(16))
        let queue = DispatchQueue(label: "disco.signals")
        var sources: [any DispatchSourceSignal] = []
        for signal in Set(signals) {
            _ = Glibc.signal(signal.rawValue, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal.rawValue, queue: queue)
            source.setEventHandler { continuation.yield(signal) }
            await withCheckedContinuation { (registered: CheckedContinuation<Void, Never>) in
                source.setRegistrationHandler { registered.resume() }
                source.resume()
            }
            sources.append(source)
        }
        let installed = SignalSources(sources)
        continuation.onTermination = { _ in installed.cancel() }
        return stream
    }
}

/// The sources of one stream, cancelled when it ends.
private final class SignalSources: Sendable {
    // Set once before the object is shared and never mutated; DispatchSource's cancel is
    // thread-safe.
    nonisolated(unsafe) let sources: [any DispatchSourceSignal]

    init(_ sources: [any DispatchSourceSignal]) { self.sources = sources }

    func cancel() { sources.forEach { $0.cancel() } }
}
