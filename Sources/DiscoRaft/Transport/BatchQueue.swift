import Synchronization

// MARK: - BatchQueue

/// A many-producer, one-consumer queue whose consumer takes everything queued at once (so one
/// wake-up handles a burst: one write for many frames, one fsync for many proposals).
///
/// Bounded by element count and by a byte estimate. When full, ``OverflowPolicy/dropOldest``
/// makes room by discarding the oldest elements and ``OverflowPolicy/refuseNew`` refuses the new
/// one; `force` pushes are always accepted (requests that someone awaits).
final class BatchQueue<Element: Sendable>: Sendable {
    enum OverflowPolicy: Sendable { case dropOldest, refuseNew }

    private struct State {
        var items: [Element] = []
        var head = 0
        var bytes = 0
        var waiter: CheckedContinuation<[Element]?, Never>?
        var closed = false

        var count: Int { items.count - head }

        mutating func takeAll() -> [Element] {
            let taken = head == 0 ? items : Array(items[head...])
            items.removeAll(keepingCapacity: true)
            head = 0
            bytes = 0
            return taken
        }
    }

    let maxCount: Int
    let maxBytes: Int
    let policy: OverflowPolicy
    private let size: @Sendable (Element) -> Int
    private let state = Mutex(State())

    init(maxCount: Int = .max, maxBytes: Int = .max, policy: OverflowPolicy = .dropOldest,
         size: @escaping @Sendable (Element) -> Int = { _ in 0 }) {
        self.maxCount = max(1, maxCount)
        self.maxBytes = max(1, maxBytes)
        self.policy = policy
        self.size = size
    }

    /// How many queued elements satisfy `predicate` (for tests).
    func count(where predicate: (Element) -> Bool) -> Int {
        state.withLock { state in state.items[state.head...].count(where: predicate) }
    }

    /// Queues `element`. Returns how many elements were discarded to make room (including
    /// `element` itself when it was refused, or when the queue is closed).
    @discardableResult
    func push(_ element: Element, force: Bool = false) -> Int {
        let elementSize = size(element)
        let (waiter, batch, discarded): (CheckedContinuation<[Element]?, Never>?, [Element], Int) = state.withLock { state in
            guard !state.closed else { return (nil, [], 1) }
            var discarded = 0
            if !force, policy == .refuseNew,
               state.count >= maxCount || (state.count > 0 && state.bytes + elementSize > maxBytes) {
                return (nil, [], 1)
            }
            state.items.append(element)
            state.bytes += elementSize
            if policy == .dropOldest {
                while state.count > 1, state.count > maxCount || state.bytes > maxBytes {
                    state.bytes -= size(state.items[state.head])
                    state.head += 1
                    discarded += 1
                }
                if state.head > 64, state.head * 2 > state.items.count {
                    state.items.removeFirst(state.head)
                    state.head = 0
                }
            }
            guard let waiter = state.waiter else { return (nil, [], discarded) }
            state.waiter = nil
            return (waiter, state.takeAll(), discarded)
        }
        waiter?.resume(returning: batch)
        return discarded
    }

    /// Puts a batch taken with ``next()`` back at the front (e.g. to send it on a new connection).
    /// With ``OverflowPolicy/dropOldest`` the bounds still hold afterwards; returns how many
    /// elements were discarded for that.
    @discardableResult
    func pushFront(_ elements: [Element]) -> Int {
        guard !elements.isEmpty else { return 0 }
        return state.withLock { state in
            state.items = elements + state.items[state.head...]
            state.head = 0
            state.bytes += elements.reduce(0) { $0 + size($1) }
            var discarded = 0
            while policy == .dropOldest, state.count > 1, state.count > maxCount || state.bytes > maxBytes {
                state.bytes -= size(state.items[state.head])
                state.head += 1
                discarded += 1
            }
            return discarded
        }
    }

    /// Everything queued, waiting until there is something. After ``close()`` the remaining
    /// elements are still returned, then nil. A cancelled waiter gets nil.
    func next() async -> [Element]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Element]?, Never>) in
                let immediate: [Element]?? = state.withLock { state in
                    if state.count > 0 { return .some(state.takeAll()) }
                    if state.closed || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// Takes what is queued without waiting.
    func takeAll() -> [Element] { state.withLock { $0.takeAll() } }

    /// Refuses further pushes; the consumer drains what is left and then gets nil.
    func close() {
        let waiter = state.withLock { state in
            state.closed = true
            guard state.count == 0 else { return CheckedContinuation<[Element]?, Never>?.none }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    var count: Int { state.withLock { $0.count } }
    var isClosed: Bool { state.withLock { $0.closed } }
}
