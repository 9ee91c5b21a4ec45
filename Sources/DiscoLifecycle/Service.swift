// MARK: - Service

/// Something long-running that a ``ServiceGroup`` owns: a listener, a background loop, a node.
///
/// `run()` does the work and returns (or throws) when it is done. A service stops in one of two
/// ways, and they are different:
///
/// - **Graceful shutdown**: the group asks it to finish what it is doing and return, in the
///   reverse of the start order. A service learns of it through ``gracefulShutdown()``,
///   ``withGracefulShutdownHandler(operation:onGracefulShutdown:)`` or
///   ``cancelOnGracefulShutdown(_:)``; a service that has nothing to drain can simply be
///   cancelled then.
/// - **Cancellation**: the task running `run()` is cancelled (a shutdown that overran its
///   deadline, a second SIGTERM, the caller's task cancelled). The service should return
///   promptly, abandoning what it was doing.
///
/// Returning or throwing while the group runs ends the group (or is ignored) as the service's
/// ``ServiceGroupConfiguration/ServiceEntry`` says.
public protocol Service: Sendable {
    /// Runs the service until it is done, asked to shut down gracefully, or cancelled.
    func run() async throws
}

// MARK: - A service written as a closure

/// A ``Service`` whose `run()` is a closure (a loop, a listener's drain, a test double).
public struct ServiceFunction: Service {
    private let body: @Sendable () async throws -> Void

    public init(_ body: @escaping @Sendable () async throws -> Void) {
        self.body = body
    }

    public func run() async throws { try await body() }
}
