import DiscoCore

// MARK: - GroupStateMachine

/// The decisions of a ``ServiceGroup``, apart from its tasks: which service to ask to stop
/// next, when to cancel, what to log, which error `run()` throws.
struct GroupStateMachine {
    enum Phase: Equatable {
        case running, shuttingDown, cancelling
    }

    enum Action {
        /// Trigger this service's graceful shutdown.
        case askToStop(Int)
        /// Cancel these services.
        case cancel([Int])
        /// Yield `event` after `duration`.
        case startTimer(Duration, GroupEvent)
        case log(Logger.Level, String)
        case cancellationTimedOut
    }

    private let names: [String]
    private let entries: [ServiceGroupConfiguration.ServiceEntry]
    private let configuration: ServiceGroupConfiguration
    private(set) var phase = Phase.running
    private(set) var running: Set<Int>
    private var asked: Set<Int> = []
    private(set) var firstError: (any Error)?
    private(set) var timeoutError: ServiceGroupError?

    init(entries: [ServiceGroupConfiguration.ServiceEntry], configuration: ServiceGroupConfiguration) {
        self.entries = entries
        self.configuration = configuration
        names = entries.map(\.name)
        running = Set(entries.indices)
    }

    var isFinished: Bool { running.isEmpty }

    mutating func handle(_ event: GroupEvent) -> [Action] {
        switch event {
        case .shutdownRequested(let reason):
            return beginGracefulShutdown("graceful shutdown \(reason)", level: .debug)
        case .signal(let signal):
            if configuration.cancellationSignals.contains(signal) {
                return cancelRemaining("received \(signal); cancelling")
            }
            if phase == .running { return beginGracefulShutdown("received \(signal); shutting down gracefully", level: .info) }
            return cancelRemaining("received \(signal) again; cancelling what is still running")
        case .serviceEnded(let index, let error):
            return serviceEnded(index, error: error)
        case .gracefulDeadline:
            guard phase == .shuttingDown else { return [] }
            let limit = configuration.maximumGracefulShutdownDuration.map(GoDuration.format) ?? "its limit"
            let waiting = running.sorted().map { names[$0] }.joined(separator: ", ")
            timeoutError = ServiceGroupError(.gracefulShutdownTimedOut, "graceful shutdown did not finish within \(limit) (still running: \(waiting))")
            return cancelRemaining("graceful shutdown did not finish within \(limit); cancelling \(waiting)")
        case .cancellationDeadline:
            guard !running.isEmpty else { return [] }
            let waiting = running.sorted().map { names[$0] }.joined(separator: ", ")
            return [.log(.critical, "cancelled services did not stop: \(waiting)"), .cancellationTimedOut]
        }
    }

    private mutating func serviceEnded(_ index: Int, error: (any Error)?) -> [Action] {
        running.remove(index)
        var actions: [Action] = []
        let cancelledAsAsked = phase == .cancelling && error is CancellationError
        if let error, !cancelledAsAsked {
            actions.append(.log(.debug, "\(names[index]) failed: \(error)"))
            if firstError == nil { firstError = error }
        } else {
            actions.append(.log(.debug, "\(names[index]) stopped"))
        }
        if phase == .running {
            let behavior = error == nil ? entries[index].successTerminationBehavior : entries[index].failureTerminationBehavior
            let what = error == nil ? "\(names[index]) finished" : "\(names[index]) failed"
            switch behavior.kind {
            case .ignore: break
            case .gracefullyShutdownGroup: actions += beginGracefulShutdown("\(what): shutting down", level: .debug)
            case .cancelGroup: actions += cancelRemaining("\(what): cancelling the group")
            }
        } else {
            actions += askNext()
        }
        return actions
    }

    private mutating func beginGracefulShutdown(_ reason: String, level: Logger.Level) -> [Action] {
        guard phase == .running else { return [] }
        phase = .shuttingDown
        var actions: [Action] = [.log(level, reason)]
        if let limit = configuration.maximumGracefulShutdownDuration {
            actions.append(.startTimer(limit, .gracefulDeadline))
        }
        return actions + askNext()
    }

    /// Asks the last-started running service to stop, unless it was asked already.
    private mutating func askNext() -> [Action] {
        guard phase == .shuttingDown, let last = running.max(), !asked.contains(last) else { return [] }
        asked.insert(last)
        return [.askToStop(last)]
    }

    private mutating func cancelRemaining(_ reason: String) -> [Action] {
        guard phase != .cancelling, !running.isEmpty else { return [] }
        phase = .cancelling
        var actions: [Action] = [.log(.warning, reason), .cancel(running.sorted())]
        if let limit = configuration.maximumCancellationDuration {
            actions.append(.startTimer(limit, .cancellationDeadline))
        }
        return actions
    }
}
