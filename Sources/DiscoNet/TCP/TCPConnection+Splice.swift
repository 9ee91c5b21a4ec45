// MARK: - Splicing two connections

/// How a splice ended: bytes copied each way, and the first failure if a direction failed.
public struct SpliceResult: Sendable {
    /// Bytes copied from the first connection to the second (pending bytes included).
    public var forwarded: Int
    /// Bytes copied from the second connection back to the first.
    public var returned: Int
    /// The first read or write failure, nil when both directions ended with a half-close.
    /// After an idle timeout: ``NetworkError/Code-swift.struct/timedOut``.
    public var failure: (any Error)?
    /// True when the splice was closed because no bytes moved either way for its idle timeout.
    public var idleTimedOut = false
}

extension TCPConnection {
    /// Copies bytes both ways between this connection and `other` (a proxy's two legs, a
    /// WebSocket or CONNECT tunnel) until both directions have ended, then closes both.
    ///
    /// - Back-pressure: each direction reads one piece and waits until the other side has taken
    ///   it before reading the next, so a slow reader slows the sender instead of filling memory.
    /// - Half-close: when one side finishes sending, the other side's sending direction is shut
    ///   down after the last byte (a TCP FIN), and the opposite direction goes on.
    /// - A failure in either direction (reset, error) closes both connections at once, and so
    ///   does a reset of a side that has already finished sending.
    ///
    /// - Idle timeout: with `idleTimeout`, both connections are closed once no bytes have been
    ///   read from either for that long (checked a few times per timeout, so it may come up to
    ///   a quarter of it late); ``SpliceResult/idleTimedOut`` then says so. Nil: no bound.
    ///
    /// `pendingForOther` is sent to `other` before anything read from this connection (bytes
    /// already read from this side, such as those past an HTTP head); `pendingForSelf` likewise
    /// the other way.
    @discardableResult
    public func splice(with other: TCPConnection, pendingForOther: [UInt8] = [], pendingForSelf: [UInt8] = [],
                       idleTimeout: Duration? = nil) async -> SpliceResult {
        let watch = idleTimeout.map { SpliceIdleWatch(timeout: $0, legs: (self, other)) }
        watch?.start()
        var result = await withTaskGroup(of: (forward: Bool, bytes: Int, failure: (any Error)?).self) { group in
            group.addTask {
                let (bytes, failure) = await Self.pump(from: self, to: other, first: pendingForOther, watch: watch)
                return (true, bytes, failure)
            }
            group.addTask {
                let (bytes, failure) = await Self.pump(from: other, to: self, first: pendingForSelf, watch: watch)
                return (false, bytes, failure)
            }
            var result = SpliceResult(forwarded: 0, returned: 0, failure: nil)
            for await direction in group {
                if direction.forward { result.forwarded = direction.bytes } else { result.returned = direction.bytes }
                if let failure = direction.failure, result.failure == nil {
                    result.failure = failure
                    // Ends the other direction too: its pending read or write fails.
                    close()
                    other.close()
                }
            }
            return result
        }
        close()
        other.close()
        if let watch {
            watch.stop()
            if watch.timedOut {
                result.idleTimedOut = true
                result.failure = NetworkError(.timedOut, peer: remoteAddress.description,
                                              detail: "no bytes either way for \(watch.timeout)")
            }
        }
        return result
    }

    /// Runs `handler` once this connection has closed, however it closed (on its loop).
    private func whenClosed(_ handler: @escaping @Sendable () -> Void) {
        let channel = self.channel
        channel.loop.execute { channel.whenClosed(handler) }
    }

    /// Copies `from` → `to` until `from` ends, then half-closes `to`.
    private static func pump(from: TCPConnection, to: TCPConnection, first: [UInt8], watch: SpliceIdleWatch?) async -> (Int, (any Error)?) {
        var total = 0
        do {
            if !first.isEmpty {
                try await to.write(first)
                total += first.count
            }
            while let bytes = try await from.read() {
                watch?.noteActivity()
                try await to.write(bytes)
                total += bytes.count
            }
            to.shutdownWrite()
            // `from` has finished sending but stays open for the other direction, which now
            // only waits to read `to`: nothing reads `from` to notice a reset (the client gave
            // up). Its close (the loop closes it on the hang-up) ends that wait.
            from.whenClosed { to.close() }
            return (total, nil)
        } catch {
            return (total, error)
        }
    }
}
