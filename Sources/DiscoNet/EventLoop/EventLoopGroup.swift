import Synchronization

// MARK: - A few loops, handed out round-robin

/// A fixed set of ``EventLoop``s. Connections are spread over them round-robin; each connection
/// then lives on one loop for its whole life.
public final class EventLoopGroup: Sendable {
    /// The loops, in creation order.
    public let loops: [EventLoop]
    private let cursor = Atomic<Int>(0)

    /// Starts `threads` loops (at least one).
    public init(threads: Int, name: String = "disco-loop") throws(SystemError) {
        var loops: [EventLoop] = []
        for index in 0..<max(1, threads) {
            loops.append(try EventLoop(name: "\(name)-\(index)"))
        }
        self.loops = loops
    }

    /// The next loop in round-robin order.
    public func next() -> EventLoop {
        let index = cursor.add(1, ordering: .relaxed).oldValue
        return loops[index % loops.count]
    }

    /// Stops every loop.
    public func shutdown() {
        for loop in loops { loop.shutdown() }
    }

    /// A process-wide group of two loops, started on first use and never stopped. Tests, clients
    /// and small servers share it.
    public static let shared: EventLoopGroup = {
        do {
            return try EventLoopGroup(threads: 2, name: "disco-shared")
        } catch {
            fatalError("cannot start the shared event loops: \(error)")
        }
    }()
}
