import Synchronization

// MARK: - Sending a streamed request body

/// Sends a streamed request body on its own task while the response is read (a server may
/// answer as it reads). Owned by the exchange: the response stream cancels it when the exchange
/// ends before the body was sent, which closes the connection.
///
/// A failure of the producer (or a broken length promise) closes the connection at once, since
/// the server would otherwise wait for the rest; a failure to write is only recorded, so the
/// response the server may already have sent (a 413, say) can still be read.
final class HTTPClientUpload: Sendable {
    private enum Outcome {
        case sending
        case sent
        case writeFailed
        case producerFailed(any Error)
    }

    /// A write to the connection failed (as opposed to the producer failing).
    private struct WriteFailed: Error {
        let underlying: any Error
    }

    private let outcome = Mutex(Outcome.sending)
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// Set on the connection's loop the moment its transport took the body's last byte, so the
    /// reader of the response (resumed on the same loop, later) sees it without a race.
    private let allAccepted = Atomic<Bool>(false)

    private init() {}

    /// Starts sending `body` on `connection` (chunked unless `body.length` is given).
    static func start(_ body: HTTPClientRequestBody, on connection: TCPConnection) -> HTTPClientUpload {
        let upload = HTTPClientUpload()
        let sending = Task { await upload.send(body, on: connection) }
        upload.task.withLock { $0 = sending }
        return upload
    }

    private func send(_ body: HTTPClientRequestBody, on connection: TCPConnection) async {
        let written = Atomic<Int>(0)
        let chunked = body.length == nil
        let writer = HTTPBodyWriter { bytes in
            let total = written.add(bytes.count, ordering: .relaxed).newValue
            if let length = body.length, total > length {
                throw HTTPClientBodyLengthMismatch(declared: length, written: total)
            }
            do {
                try await connection.write(chunked ? HTTPResponseEncoder.chunk(bytes) : bytes)
            } catch {
                throw WriteFailed(underlying: error)
            }
        }
        do {
            try await body.produce(writer)
            let total = written.load(ordering: .relaxed)
            if let length = body.length, total != length {
                throw HTTPClientBodyLengthMismatch(declared: length, written: total)
            }
            do {
                // The last chunk, or (sized) an empty write queued behind the last piece: either
                // way `allAccepted` is set on the loop once everything before it went out.
                try await connection.write(chunked ? HTTPResponseEncoder.lastChunk : []) {
                    self.allAccepted.store(true, ordering: .releasing)
                }
            } catch {
                throw WriteFailed(underlying: error)
            }
            outcome.withLock { $0 = .sent }
        } catch is WriteFailed {
            outcome.withLock { $0 = .writeFailed }
        } catch {
            outcome.withLock { $0 = .producerFailed(error) }
            connection.close()
        }
    }

    /// True once the whole body (and its last chunk) has been taken by the connection.
    var hasFinishedSending: Bool { allAccepted.load(ordering: .acquiring) }

    /// The producer's failure, when it failed: the reason the exchange broke.
    var failure: (any Error)? {
        outcome.withLock { if case .producerFailed(let error) = $0 { return error } else { return nil } }
    }

    /// Stops sending (closing the connection if a write is pending).
    func cancel() {
        task.withLock { $0 }?.cancel()
    }
}
