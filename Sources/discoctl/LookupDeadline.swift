import DiscoCore
import Synchronization

// MARK: - -timeout for lookup and leader -disco-mode

/// The transport of discoctl's discovery backends: each request may take the whole `-timeout`
/// (Consul and etcd requests otherwise give up after their own 5 s, whatever `-timeout` says);
/// ``withinTimeout(_:_:)`` ends the lookup at `-timeout` itself, so the requests are given a
/// second more and a silent server is reported as not answering within `-timeout`.
struct LookupTransport: HTTPExchanging {
    let base: any HTTPExchanging
    let timeout: Duration

    func exchange(_ request: HTTPExchangeRequest, timeout _: Duration) async throws -> HTTPExchangeResponse {
        try await base.exchange(request, timeout: timeout + .seconds(1))
    }

    func withTLS(_ settings: ClientTLSSettings) throws -> any HTTPExchanging {
        LookupTransport(base: try base.withTLS(settings), timeout: timeout)
    }
}

/// Runs `operation` until it ends or `timeout` passes, whichever comes first: `nil` when the
/// timeout came first. The operation is then cancelled (DiscoNet closes the sockets it waits on)
/// and not waited for, so the answer comes at `timeout` whatever the operation does.
func withinTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
    let gate = Gate<Result<T, any Error>?>()
    var work: Task<Void, Never>?
    var timer: Task<Void, Never>?
    let outcome: Result<T, any Error>? = await withCheckedContinuation { continuation in
        gate.set(continuation)
        work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            gate.resume(returning: result)
        }
        timer = Task {
            try? await Task.sleep(for: timeout)
            gate.resume(returning: nil)
        }
    }
    work?.cancel()
    timer?.cancel()
    return try outcome?.get()
}

/// A continuation resumed once: by whichever of its resumers comes first.
final class Gate<Value: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<Value, Never>?>(nil)

    func set(_ waiting: CheckedContinuation<Value, Never>) { continuation.withLock { $0 = waiting } }

    func resume(returning value: Value) { continuation.withLock { $0.take() }?.resume(returning: value) }
}

/// Prints that `what` did not answer within `-timeout` and returns exit status 1.
func lookupTimedOut(_ command: String, _ what: String, _ timeout: Duration) -> Int32 {
    fail(command, "\(what) did not answer within -timeout \(GoDuration.format(timeout)); "
        + "check that it is running and reachable from here, or raise -timeout").code
}
