import Synchronization

// MARK: - A few loops, handed out round-robin

/// A fixed set of ``EventLoop``s. Connections are spread over them round-robin; each connection
/// then lives on one loop for its whole life.
public final class EventLoopGroup: Sendable {
    /// The loops, in creation order.
    public let loops: [EventLoop]
    private let cursor = Atomic<Int>(0)

    /// Starts `threads` loops (at least one); when one cannot start, stops those that did and throws.
    public init(threads: Int, name: String = "disco-loop") throws(SystemError) {
        var loops: [EventLoop] = []
        for index in 0..<max(1, threads) {
            do {
                loops.append(try EventLoop(name: "\(name)-\(index)"))
            } catch {
                // The loops already started stop: a failed group holds no thread.
                for loop in loops { loop.shutdown() }
                throw error
            }
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
    /// and small servers share it. Its loops cannot start when the process has no descriptor
    /// left for their `epoll` and `eventfd` (or no memory): then this traps, as a property
    /// cannot throw. The library never reads it: an API given no group starts the shared one
    /// with ``startShared()`` where it can throw (``HTTPClient`` at its first connection), and a
    /// daemon starts it first, so that it can report that failure and exit.
    public static let shared: EventLoopGroup = {
        do {
            return try startShared()
        } catch {
            fatalError("cannot start the shared event loops: \(error)")
        }
    }()

    /// The group ``shared`` is: started now when it is not yet, and thrown when its loops cannot
    /// start (no descriptor or memory left); the next call tries again.
    public static func startShared() throws(SystemError) -> EventLoopGroup {
        try sharedGroup.withLock { (group: inout EventLoopGroup?) throws(SystemError) -> EventLoopGroup in
            if let group { return group }
            let started = try EventLoopGroup(threads: 2, name: "disco-shared")
            group = started
            return started
        }
    }

    /// The shared group when it has started; nil before (nothing runs on its loops then).
    static var sharedIfStarted: EventLoopGroup? { sharedGroup.withLock { $0 } }

    private static let sharedGroup = Mutex<EventLoopGroup?>(nil)
}
