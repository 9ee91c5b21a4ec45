import DiscoCore

// MARK: - ServiceGroupConfiguration

/// What a ``ServiceGroup`` runs and how it stops: the services in start order, the signals it
/// answers, and the deadlines after which a shutdown escalates.
public struct ServiceGroupConfiguration: Sendable {
    /// One service and what its ending means for the group.
    public struct ServiceEntry: Sendable {
        public var service: any Service
        /// Used in log lines and errors.
        public var name: String
        /// What the group does when `run()` returns while the group is running. Default:
        /// shut the group down gracefully.
        public var successTerminationBehavior: TerminationBehavior
        /// What the group does when `run()` throws while the group is running. Default: shut the
        /// group down gracefully, and `run()` of the group throws the error once it has stopped.
        public var failureTerminationBehavior: TerminationBehavior

        public init(_ service: any Service, name: String? = nil,
                    successTerminationBehavior: TerminationBehavior = .gracefullyShutdownGroup,
                    failureTerminationBehavior: TerminationBehavior = .gracefullyShutdownGroup) {
            self.service = service
            self.name = name ?? String(describing: type(of: service))
            self.successTerminationBehavior = successTerminationBehavior
            self.failureTerminationBehavior = failureTerminationBehavior
        }
    }

    /// The services, in start order; they stop in the reverse order.
    public var services: [ServiceEntry]
    /// Signals that start a graceful shutdown; the same signal again cancels. Default: none
    /// (a library's group leaves signals to the program).
    public var gracefulShutdownSignals: [UnixSignal] = []
    /// Signals that cancel every service at once. Default: none.
    public var cancellationSignals: [UnixSignal] = []
    /// How long a graceful shutdown may take before the remaining services are cancelled
    /// (nil: no limit). Default: nil.
    public var maximumGracefulShutdownDuration: Duration?
    /// How long cancelled services may take to return before ``onCancellationTimeout`` is
    /// called (nil: no limit). Default: 5 seconds.
    public var maximumCancellationDuration: Duration? = .seconds(5)
    /// Called (once) when cancelled services overrun ``maximumCancellationDuration``: a program
    /// may end the process here. Default: nil, the group logs it and keeps waiting.
    public var onCancellationTimeout: (@Sendable () -> Void)?
    public var logger: Logger

    public init(services: [ServiceEntry], logger: Logger) {
        self.services = services
        self.logger = logger
    }

    /// Services that each stop the group gracefully when they end.
    public init(services: [any Service], logger: Logger) {
        self.init(services: services.map { ServiceEntry($0) }, logger: logger)
    }
}

// MARK: - TerminationBehavior

/// What a group does when one of its services ends on its own.
public struct TerminationBehavior: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        case gracefullyShutdownGroup, cancelGroup, ignore
    }

    let kind: Kind

    /// Shut the other services down gracefully, in reverse start order.
    public static let gracefullyShutdownGroup = TerminationBehavior(kind: .gracefullyShutdownGroup)
    /// Cancel the other services at once.
    public static let cancelGroup = TerminationBehavior(kind: .cancelGroup)
    /// Keep the others running (a one-off job, a loop that may end).
    public static let ignore = TerminationBehavior(kind: .ignore)

    public var description: String {
        switch kind {
        case .gracefullyShutdownGroup: "gracefully shut down the group"
        case .cancelGroup: "cancel the group"
        case .ignore: "ignore"
        }
    }
}

// MARK: - ServiceGroupError

/// Why a group's `run()` failed on its own account (a service's own error is rethrown as is).
public struct ServiceGroupError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// `run()` was called on a group that runs or ran already.
        public static let alreadyRun = Code(name: "already-run")
        /// Services did not stop within ``ServiceGroupConfiguration/maximumGracefulShutdownDuration``
        /// and were cancelled.
        public static let gracefulShutdownTimedOut = Code(name: "graceful-shutdown-timed-out")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
