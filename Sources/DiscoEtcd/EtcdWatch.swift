import DiscoCore
import Foundation
import Synchronization

// MARK: - Watch events

/// One change seen by a watch.
public enum EtcdWatchEvent: Sendable, Hashable {
    case put(EtcdKeyValue)
    /// The key was deleted (or its lease expired) at `revision`.
    case delete(key: String, revision: Int64)

    public var revision: Int64 {
        switch self {
        case .put(let kv): kv.modRevision
        case .delete(_, let revision): revision
        }
    }

    public var key: String {
        switch self {
        case .put(let kv): kv.key
        case .delete(let key, _): key
        }
    }
}

/// What one watch message carried: events in revision order (empty for a progress
/// notification), and the store's revision when it was sent.
public struct EtcdWatchBatch: Sendable, Hashable {
    public var events: [EtcdWatchEvent]
    public var revision: Int64
}

// MARK: - EtcdWatch

/// A watch on every key under a prefix, read by pulling batches with ``next()``.
///
/// The watch is one long-lived streaming `POST /v3/watch` (newline-delimited JSON). When the
/// stream breaks (etcd stopped, an endpoint failed), ``next()`` throws the ``EtcdError``; the
/// next call opens a new stream, on the next endpoint, resuming after the last revision seen,
/// so no event is lost or repeated. When etcd has compacted the revisions the watch needs,
/// ``next()`` throws `.compacted`: the caller re-reads the state and starts a new watch.
/// One task reads a watch at a time; ``close()`` ends it from any task.
public final class EtcdWatch: Sendable {
    public let client: EtcdClient
    public let prefix: String
    /// Ask etcd for progress notifications (empty batches with the current revision).
    public let progressNotify: Bool

    struct Stream {
        var response: HTTPStreamedExchangeResponse
        var endpoint: String
        var lines = LineSplitter()
        var queued: [EtcdWatchBatch] = []
    }

    private struct State {
        /// The next revision to deliver: events before it were delivered.
        var nextRevision: Int64
        var stream: Stream?
        var closed = false
    }

    private let state: Mutex<State>

    /// - Parameter revision: the first revision to deliver (0: changes after now).
    public init(client: EtcdClient, prefix: String, from revision: Int64, progressNotify: Bool = true) {
        self.client = client
        self.prefix = prefix
        self.progressNotify = progressNotify
        state = Mutex(State(nextRevision: revision))
    }

    deinit { close() }

    /// The revision the next event will have at least.
    public var nextRevision: Int64 { state.withLock { $0.nextRevision } }

    /// Ends the watch: the stream is closed and ``next()`` throws.
    public func close() {
        let response = state.withLock { state -> HTTPStreamedExchangeResponse? in
            state.closed = true
            defer { state.stream = nil }
            return state.stream?.response
        }
        response?.close()
    }

    /// The next batch of events (or progress notification). Opens the stream when there is none.
    public func next() async throws(EtcdError) -> EtcdWatchBatch {
        while true {
            let (current, queuedBatch, closed) = state.withLock { state -> (Stream?, EtcdWatchBatch?, Bool) in
                if state.stream?.queued.isEmpty == false {
                    return (nil, state.stream?.queued.removeFirst(), state.closed)
                }
                return (state.stream, nil, state.closed)
            }
            if closed { throw EtcdError(.unavailable, endpoint: client.endpointList, operation: operation, message: "the watch was closed") }
            if let queuedBatch { return queuedBatch }
            guard var stream = current else {
                try await open()
                continue
            }
            let piece: [UInt8]?
            do {
                piece = try await withTaskCancellationHandler {
                    try await stream.response.next()
                } onCancel: {
                    self.close()
                }
            } catch {
                drop(stream, skipEndpoint: true)
                throw EtcdError(.unavailable, endpoint: stream.endpoint, operation: operation, message: "the watch stream broke: \(error)")
            }
            guard let piece else {
                drop(stream, skipEndpoint: true)
                throw EtcdError(.unavailable, endpoint: stream.endpoint, operation: operation, message: "etcd ended the watch stream")
            }
            guard let lines = stream.lines.feed(piece) else {
                drop(stream, skipEndpoint: false)
                throw EtcdError(.malformed, endpoint: stream.endpoint, operation: operation, message: "a watch message longer than 64 MiB")
            }
            var batches: [EtcdWatchBatch] = []
            for line in lines {
                do throws(EtcdError) {
                    if let batch = try decode(line, endpoint: stream.endpoint) { batches.append(batch) }
                } catch {
                    drop(stream, skipEndpoint: false)
                    throw error
                }
            }
            let delivered = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                stream.queued.append(contentsOf: batches)
                for batch in batches {
                    // A progress notification promises every event up to its revision was sent.
                    let through = batch.events.last?.revision ?? batch.revision
                    state.nextRevision = max(state.nextRevision, through + 1)
                }
                state.stream = stream
                return true
            }
            if !delivered { stream.response.close() }
        }
    }

    // MARK: Internals

    var operation: String { "watch \(prefix)*" }

    private func open() async throws(EtcdError) {
        let revision = nextRevision
        var create: [String: Any] = [
            "key": EtcdGateway.base64(prefix), "range_end": EtcdGateway.base64(EtcdKey.prefixEnd(prefix)),
        ]
        if revision > 0 { create["start_revision"] = String(revision) }
        if progressNotify { create["progress_notify"] = true }
        let opened: (HTTPStreamedExchangeResponse, String)
        do {
            opened = try await client.gateway.openStream("/v3/watch", ["create_request": create], record: operation)
        } catch let error as DiscoveryError {
            throw EtcdError(error, operation: operation)
        } catch {
            throw EtcdError(.unavailable, endpoint: client.endpointList, operation: operation, message: "\(error)")
        }
        let kept = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.stream = Stream(response: opened.0, endpoint: opened.1)
            return true
        }
        if !kept { opened.0.close() }
    }

    private func drop(_ stream: Stream, skipEndpoint: Bool) {
        stream.response.close()
        state.withLock { $0.stream = nil }
        if skipEndpoint && client.gateway.endpoints.count > 1 { client.gateway.skip(stream.endpoint) }
    }

    /// One message: a batch, nil for the creation acknowledgement, or an error.
    func decode(_ line: [UInt8], endpoint: String) throws(EtcdError) -> EtcdWatchBatch? {
        try Self.decode(line, endpoint: endpoint, operation: operation, resumingAt: nextRevision)
    }

    /// One line of a watch stream (etcd's JSON gateway): a batch, nil for the creation
    /// acknowledgement, or an ``EtcdError`` that says what was wrong with it (`.malformed`),
    /// what etcd refused (`.rejected`) or that the revisions were compacted (`.compacted`).
    /// `resumingAt` only names the revision the watch wanted in the compaction message.
    public static func decode(_ line: [UInt8], endpoint: String, operation: String,
                              resumingAt nextRevision: Int64) throws(EtcdError) -> EtcdWatchBatch? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
            throw EtcdError(.malformed, endpoint: endpoint, operation: operation,
                            message: "a watch message that is not a JSON object: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
        if let failure = object["error"] as? [String: Any] {
            let message = (failure["message"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            throw EtcdError(.rejected, endpoint: endpoint, operation: operation,
                            message: message ?? "etcd answered the watch with an error without a message: \(failure)")
        }
        guard let result = object["result"] as? [String: Any] else {
            throw EtcdError(.malformed, endpoint: endpoint, operation: operation, message: "a watch message without result: \(object)")
        }
        let compacted = EtcdGateway.int64(result["compact_revision"])
        if compacted > 0 {
            throw EtcdError(.compacted(compactRevision: compacted), endpoint: endpoint, operation: operation,
                            message: "etcd compacted the revisions from \(nextRevision) on (it keeps \(compacted) and later)")
        }
        if result["canceled"] as? Bool == true {
            let reason = (result["cancel_reason"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            throw EtcdError(.rejected, endpoint: endpoint, operation: operation, message: reason ?? "etcd canceled the watch without a reason")
        }
        let revision = EtcdGateway.int64((result["header"] as? [String: Any])?["revision"])
        if result["created"] as? Bool == true, result["events"] == nil { return nil }
        var events: [EtcdWatchEvent] = []
        for event in result["events"] as? [[String: Any]] ?? [] {
            guard let kvObject = event["kv"] as? [String: Any], let kv = EtcdKeyValue(gateway: kvObject) else {
                throw EtcdError(.malformed, endpoint: endpoint, operation: operation, message: "a watch event without a kv: \(event)")
            }
            if event["type"] as? String == "DELETE" {
                events.append(.delete(key: kv.key, revision: kv.modRevision))
            } else {
                events.append(.put(kv))
            }
        }
        return EtcdWatchBatch(events: events, revision: revision)
    }
}
