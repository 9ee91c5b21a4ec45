#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import Synchronization
import CDiscoEpoll

// MARK: - Readiness callbacks

/// Something registered with an ``EventLoop`` for readiness of one descriptor.
/// Called on the loop thread only; must tolerate spurious wake-ups (a read returning `EAGAIN`).
protocol EventLoopSelectable: AnyObject {
    func handleReadiness(_ events: UInt32)
}

// MARK: - Event loop

/// One thread running `epoll_wait` over the descriptors it owns, plus a work queue and timers.
///
/// Handlers see **level-triggered** readiness: a connection that stops reading (back-pressure
/// while a handler runs, or a full buffer) simply drops read from its interest and is not woken
/// again; nothing has to remember "data was left unread", and a connection reads at most one
/// buffer per turn, so a chatty peer cannot starve the others. Listeners and datagram sockets
/// are registered level-triggered; a ``TCPTransport`` registers edge-triggered once and keeps
/// the level itself (its handler's view is the same), so interest changes cost no `epoll_ctl`
/// and `epoll_wait` does not poll every reported socket again.
///
/// The loop is also a `TaskExecutor`: request handlers start as tasks preferring this executor,
/// so a handler that does not suspend runs to completion on the loop thread with no thread hop,
/// and its response is written directly.
public final class EventLoop: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: `handlers`, `timers`, `localWork`, `running` and `readScratch` are
    // touched only on the loop thread (every internal entry point asserts `inLoop` or is reached from the loop);
    // cross-thread submissions go through the `remote` mutex and the eventfd.

    private enum Work {
        case closure(() -> Void)
        case job(UnownedJob)
    }

    private enum RemoteWork: Sendable {
        case closure(@Sendable () -> Void)
        case job(UnownedJob)
    }

    private struct RemoteQueue {
        var work: [RemoteWork] = []
        var wakePending = false
        /// The loop has stopped and closed its wake descriptor: nothing submitted runs, and
        /// nothing may be written to that descriptor's number (another file may have it now).
        var isClosed = false
    }

    private let epollFD: Int32
    private let wakeFD: Int32
    private let remote = Mutex(RemoteQueue())
    private let threadID = Atomic<UInt>(0)

    private var handlers: [(any EventLoopSelectable)?] = []
    private var timers = TimerQueue()
    private var localWork: [Work] = []
    /// Edge-triggered transports owed readiness their sockets will not signal again (see
    /// ``TCPTransport``), called at the end of the turn.
    private var owedReadiness: [TCPTransport] = []
    private var running = true
    /// Where stream reads land before their bytes are copied out at their exact length: one
    /// buffer per loop (reads are synchronous on the loop thread), so a read costs no zeroed
    /// 64 KiB allocation. Allocated on first use, never freed (the loop lives as long as it runs).
    private var readScratch: UnsafeMutableRawBufferPointer?

    /// The loop's read buffer (loop thread only): ``readScratchSize`` bytes.
    func withReadScratch<R>(_ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        if let scratch = readScratch { return body(scratch) }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readScratchSize, alignment: 16)
        readScratch = scratch
        return body(scratch)
    }

    /// The monotonic time (nanoseconds) when the loop last woke from `epoll_wait`: what
    /// per-request bookkeeping (deadlines, latencies) reads instead of the clock, as the events
    /// of one turn happen within it. Loop thread only.
    public var turnNanoseconds: UInt64 {
        assert(inLoop, "turnNanoseconds read off the loop thread")
        return turnStarted
    }
    private var turnStarted: UInt64 = MonotonicClock.nowNanoseconds()

    /// Size of the loop's read buffer.
    static let readScratchSize = 64 * 1024

    /// Starts a loop on a new thread named `name`.
    public init(name: String = "disco-loop") throws(SystemError) {
        let epoll = try retryingEINTR("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        do {
            wakeFD = try retryingEINTR("eventfd") { eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK)) }
        } catch {
            // Out of descriptors: the epoll one is not kept (a caller may try again later).
            Glibc.close(epoll)
            throw error
        }
        epollFD = epoll
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wakeFD))
        _ = try retryingEINTR("epoll_ctl(ADD eventfd)") { epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) }
        try LoopThread.start(name: name) { [self] in runLoop() }
    }

    /// True when called on this loop's thread.
    public var inLoop: Bool { pthread_self() == threadID.load(ordering: .acquiring) }

    // MARK: Submitting work

    /// Runs `work` on the loop thread, soon. Safe from any thread.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        if inLoop { localWork.append(.closure(work)) } else { submitRemote(.closure(work)) }
    }

    /// Runs a loop-confined closure; must be called on the loop thread.
    func executeLocal(_ work: @escaping () -> Void) {
        assert(inLoop, "executeLocal called off the loop thread")
        localWork.append(.closure(work))
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if inLoop { localWork.append(.job(job)) } else { submitRemote(.job(job)) }
    }

    private func submitRemote(_ work: RemoteWork) {
        remote.withLock { queue in
            queue.work.append(work)
            // A stopped loop runs nothing more (what is queued stays queued, never run).
            guard !queue.wakePending, !queue.isClosed else { return }
            queue.wakePending = true
            // Written under the lock, which the stopping loop takes before it closes the
            // descriptor: a write after the close would land in whatever file reuses the number
            // (8 stray bytes in another connection's stream).
            var one: UInt64 = 1
            _ = Glibc.write(wakeFD, &one, 8)
        }
    }

    /// Runs `body` on the loop and returns its result to the caller.
    public func submit<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            execute { continuation.resume(with: Result(catching: body)) }
        }
    }

    // MARK: Timers (loop thread only)

    func scheduleTimer(at deadline: UInt64, _ action: @escaping () -> Void) -> TimerID {
        assert(inLoop)
        return timers.schedule(at: deadline, action)
    }

    func scheduleTimer(after delay: Duration, _ action: @escaping () -> Void) -> TimerID {
        scheduleTimer(at: MonotonicClock.nowNanoseconds() &+ MonotonicClock.nanoseconds(delay), action)
    }

    func cancelTimer(_ id: TimerID) {
        assert(inLoop)
        timers.cancel(id)
    }

    // MARK: Registration (loop thread only)

    /// Calls `transport` back (``TCPTransport/deliverOwedReadiness()``) at the end of this turn,
    /// or of the next one when the turn's owed calls are already being made.
    func oweReadiness(_ transport: TCPTransport) {
        assert(inLoop)
        owedReadiness.append(transport)
    }

    func register(_ fd: Int32, _ handler: any EventLoopSelectable, events: UInt32) throws(SystemError) {
        assert(inLoop)
        let index = Int(fd)
        if index >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: index + 64 - handlers.count)) }
        var event = epoll_event(events: events, data: epoll_data_t(fd: fd))
        _ = try retryingEINTR("epoll_ctl(ADD)") { epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) }
        handlers[index] = handler
    }

    func modify(_ fd: Int32, events: UInt32) {
        assert(inLoop)
        var event = epoll_event(events: events, data: epoll_data_t(fd: fd))
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    /// Removes `fd` from the interest set; call before closing it.
    func deregister(_ fd: Int32) {
        assert(inLoop)
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    /// Stops the loop thread after the current turn. Registered descriptors are not closed: their
    /// owners close them first.
    public func shutdown() {
        execute { [self] in running = false }
    }

    // MARK: The loop

    private func runLoop() {
        threadID.store(pthread_self(), ordering: .releasing)
        let capacity: Int32 = 512
        var events = [epoll_event](repeating: epoll_event(), count: Int(capacity))
        while running {
            let timeout = nextTimeoutMilliseconds()
            let count = events.withUnsafeMutableBufferPointer { buffer in
                epoll_wait(epollFD, buffer.baseAddress, capacity, timeout)
            }
            turnStarted = MonotonicClock.nowNanoseconds()
            if count > 0 {
                for index in 0..<Int(count) {
                    let event = events[index]
                    let fd = event.data.fd
                    if fd == wakeFD {
                        var value: UInt64 = 0
                        _ = Glibc.read(wakeFD, &value, 8)
                    } else if Int(fd) < handlers.count, let handler = handlers[Int(fd)] {
                        handler.handleReadiness(event.events)
                    }
                }
            }
            if !owedReadiness.isEmpty { deliverOwedReadiness() }
            let incoming = remote.withLock { queue in
                queue.wakePending = false
                let work = queue.work
                queue.work.removeAll(keepingCapacity: true)
                return work
            }
            for work in incoming {
                switch work {
                case .closure(let body): localWork.append(.closure(body))
                case .job(let job): localWork.append(.job(job))
                }
            }
            if !timers.isEmpty {
                for action in timers.popDue(now: MonotonicClock.nowNanoseconds()) { action() }
            }
            runLocalWork()
        }
        remote.withLock { $0.isClosed = true }
        closeDescriptor(wakeFD)
        closeDescriptor(epollFD)
    }

    /// Runs the work queued so far; work queued while running waits for the next turn (which then
    /// polls without sleeping), so I/O is never starved by a task that keeps re-enqueueing itself.
    private func runLocalWork() {
        guard !localWork.isEmpty else { return }
        var batch: [Work] = []
        swap(&batch, &localWork)
        let executor = asUnownedTaskExecutor()
        for work in batch {
            switch work {
            case .closure(let body): body()
            case .job(let job): job.runSynchronously(on: executor)
            }
        }
        if localWork.isEmpty {
            batch.removeAll(keepingCapacity: true)
            swap(&batch, &localWork)
        }
    }

    /// Calls the transports owed readiness so far; those owed again meanwhile wait for the next
    /// turn (which then polls without sleeping), as level-triggered epoll would report them.
    private func deliverOwedReadiness() {
        var batch: [TCPTransport] = []
        swap(&batch, &owedReadiness)
        for transport in batch { transport.deliverOwedReadiness() }
        if owedReadiness.isEmpty {
            batch.removeAll(keepingCapacity: true)
            swap(&batch, &owedReadiness)
        }
    }

    private func nextTimeoutMilliseconds() -> Int32 {
        if !localWork.isEmpty || !owedReadiness.isEmpty { return 0 }
        guard let deadline = timers.nextDeadline else { return -1 }
        let now = MonotonicClock.nowNanoseconds()
        if deadline <= now { return 0 }
        let millis = (deadline - now + 999_999) / 1_000_000
        return Int32(min(millis, 60_000))
    }
}
