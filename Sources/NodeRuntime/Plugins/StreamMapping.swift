import DiscoCore
import Synchronization

// MARK: - Mapping a stream without a task

extension AsyncStream where Element: Sendable {
    /// `base`'s elements passed through `transform` (nil drops one), pulled from `base` only when
    /// the consumer asks: no task of its own, and it ends when `base` ends or the consumer's
    /// task is cancelled.
    static func mapping<Base: Sendable>(_ base: AsyncStream<Base>,
                                        _ transform: @escaping @Sendable (Base) -> Element?) -> AsyncStream<Element> {
        let source = SerialIterator(base)
        return AsyncStream(unfolding: {
            while let next = await source.next() {
                if let mapped = transform(next) { return mapped }
            }
            return nil
        })
    }

    /// `first`, then `base`'s elements, pulled only when the consumer asks (no task of its own).
    static func prepending(_ first: Element, to base: AsyncStream<Element>) -> AsyncStream<Element> {
        let source = SerialIterator(base)
        let pending = Mutex<Element?>(first)
        return AsyncStream(unfolding: {
            if let element = pending.withLock({ value -> Element? in
                defer { value = nil }
                return value
            }) { return element }
            return await source.next()
        })
    }
}

/// An async iterator shared by the closure of an unfolding stream. Every `next()` runs under an
/// ``AsyncLock``, so the iterator is used by one caller at a time even if the stream were
/// consumed from two tasks; that is why the unchecked conformance is safe.
private final class SerialIterator<Element: Sendable>: @unchecked Sendable {
    private var iterator: AsyncStream<Element>.Iterator
    private let lock = AsyncLock()

    init(_ stream: AsyncStream<Element>) {
        iterator = stream.makeAsyncIterator()
    }

    func next() async -> Element? {
        await lock.withLock { await self.advance() }
    }

    private func advance() async -> Element? {
        await iterator.next()
    }
}
