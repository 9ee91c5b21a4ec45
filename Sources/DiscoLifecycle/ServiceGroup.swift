import DiscoCore
import Synchronization

// MARK: - ServiceGroup

/// Runs services as one structured unit: each `run()` in a child task, started in order;
/// a graceful shutdown asks them to finish in reverse order, one at a time; a shutdown that
/// overruns its deadline, or a second signal, cancels what is left. A service that fails stops
/// the group, and `run()` throws its error once everything has stopped.
///
/// A group is itself a ``Service``: run inside another group, it shuts down gracefully when
/// the outer group asks it to.
///
/// ```swift
/// let group = ServiceGroup(services: [node, proxy], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public final class ServiceGroup: Service {
    public let configuration: ServiceGroupConfiguration

    private enum State {
        case idle(shutdownRequested: Bool)
        case running(AsyncStream<GroupEvent>.Continuation)
        case finished
    }

    private let state = Mutex(State.idle(shutdownRequested: false))

    public init(configuration: ServiceGroupConfiguration) {
        self.configuration = configuration
    }

    /// A group of `services` (each stops the group gracefully when it ends) answering
    /// `gracefulShutdownSignals`.
    public convenience init(services: [any Service], gracefulShutdownSignals: [UnixSignal] = [], logger: Logger) {
        var configuration = ServiceGroupConfiguration(services: services, logger: logger)
        configuration.gracefulShutdownSignals = gracefulShutdownSignals
        self.init(configuration: configuration)
    }

    /// Asks the group to shut down gracefully: now when it runs, at once when it starts later.
    public func triggerGracefulShutdown() {
        let sink = state.withLock { state -> AsyncStream<GroupEvent>.Continuation? in
            switch state {
            case .idle: state = .idle(shutdownRequested: true); return nil
            case .running(let sink): return sink
            case .finished: return nil
            }
        }
        sink?.yield(.shutdownRequested("requested"))
    }

    /// Runs every service until all have returned. Throws the first service error, or
    /// ``ServiceGroupError`` when the graceful shutdown had to be cancelled or the group already
    /// ran.
    public func run() async throws {
        let (events, sink) = AsyncStream.makeStream(of: GroupEvent.self)
        let pending = try state.withLock { state -> Bool in
            guard case .idle(let requested) = state else {
                throw ServiceGroupError(.alreadyRun, "this service group has already been run; make a new one")
            }
            state = .running(sink)
            return requested
        }
        defer {
            state.withLock { $0 = .finished }
            sink.finish()
        }
        if pending { sink.yield(.shutdownRequested("requested before the group started")) }
        try await withGracefulShutdownHandler {
            try await runServices(events: events, sink: sink)
        } onGracefulShutdown: {
            sink.yield(.shutdownRequested("the enclosing group is shutting down"))
        }
    }

    private func runServices(events: AsyncStream<GroupEvent>, sink: AsyncStream<GroupEvent>.Continuation) async throws {
        let entries = configuration.services
        guard !entries.isEmpty else { return }
        let logger = configuration.logger
        let shutdownSignals = entries.map { _ in GracefulShutdownSignal() }
        let cancelSignals = entries.map { _ in GracefulShutdownSignal() }
        let signals = configuration.gracefulShutdownSignals + configuration.cancellationSignals
        let signalStream = signals.isEmpty ? nil : await UnixSignalStream.make(signals)

        try await withThrowingTaskGroup(of: Void.self) { group in
            if let signalStream {
                group.addTask {
                    for await signal in signalStream { sink.yield(.signal(signal)) }
                }
            }
            for (index, entry) in entries.enumerated() {
                logger.debug("starting \(entry.name)")
                group.addTask {
                    let error = await Self.run(entry.service, shutdown: shutdownSignals[index], cancel: cancelSignals[index])
                    sink.yield(.serviceEnded(index: index, error: error))
                }
            }
            var machine = GroupStateMachine(entries: entries, configuration: configuration)
            for await event in events {
                for action in machine.handle(event) {
                    switch action {
                    case .askToStop(let index):
                        logger.debug("stopping \(entries[index].name)")
                        shutdownSignals[index].trigger()
                    case .cancel(let indexes):
                        indexes.forEach { cancelSignals[$0].trigger() }
                    case .startTimer(let duration, let event):
                        group.addTask {
                            try await Task.sleep(for: duration)
                            sink.yield(event)
                        }
                    case .log(let level, let message):
                        logger.log(level: level, message)
                    case .cancellationTimedOut:
                        configuration.onCancellationTimeout?()
                    }
                }
                if machine.isFinished { break }
            }
            group.cancelAll()
            // Timers and the signal listener end by cancellation; that is not an error.
            while let result = await group.nextResult() {
                if case .failure(let error) = result, !(error is CancellationError) { throw error }
            }
            if let error = machine.firstError { throw error }
            if let timeout = machine.timeoutError { throw timeout }
            if !machine.isFinished { throw CancellationError() }
        }
    }

    /// Runs one service with its graceful-shutdown signal set, until it returns or `cancel`
    /// fires (then its task is cancelled and awaited). Returns its error, if any.
    private static func run(_ service: any Service, shutdown: GracefulShutdownSignal,
                            cancel: GracefulShutdownSignal) async -> (any Error)? {
        await withTaskGroup(of: ServiceOutcome.self) { inner in
            inner.addTask {
                await GracefulShutdownSignal.$current.withValue(shutdown) {
                    do {
                        try await service.run()
                        return .returned(nil)
                    } catch {
                        return .returned(error)
                    }
                }
            }
            inner.addTask {
                await cancel.wait()
                return .cancelRequested
            }
            var error: (any Error)?
            while let outcome = await inner.next() {
                if case .returned(let returned) = outcome { error = returned }
                inner.cancelAll()
            }
            return error
        }
    }
}

private enum ServiceOutcome: Sendable {
    case returned((any Error)?)
    case cancelRequested
}

// MARK: - Events

/// What the group's loop reacts to.
enum GroupEvent: Sendable {
    case shutdownRequested(String)
    case signal(UnixSignal)
    case serviceEnded(index: Int, error: (any Error)?)
    case gracefulDeadline
    case cancellationDeadline
}
