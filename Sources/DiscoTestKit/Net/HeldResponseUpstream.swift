import DiscoNet
import Synchronization

// MARK: - An upstream that holds back part of its answer

/// A raw HTTP/1.1 server on loopback whose answers come in two parts: the first is written as
/// soon as a request (head and `Content-Length` body) has been read, the second only once the
/// test calls ``release()``. A test proves that what the first part holds (an interim
/// `103 Early Hints`) reached its client before the rest existed, without timing: it reads the
/// first part through whatever is in between, then releases the rest. Connections are kept
/// alive: each serves requests until the peer closes it.
public final class HeldResponseUpstream: Sendable {
    /// How one request is answered.
    public struct Answer: Sendable {
        /// Written at once.
        public var first: [UInt8]
        /// Written once released (held answers are released in the order their first parts
        /// went out); nil: nothing is held.
        public var held: [UInt8]?

        public init(first: String, held: String? = nil) {
            self.first = Array(first.utf8)
            self.held = held.map { Array($0.utf8) }
        }
    }

    /// A request as read: its method, target and body.
    public struct Seen: Sendable, Equatable {
        public var method: String
        public var target: String
        public var body: [UInt8]
    }

    private let listener: TCPListener
    private let task: Task<Void, Never>
    private let state: State

    private final class State: Sendable {
        /// Answers whose first part went out with a second part held.
        let held = Atomic<Int>(0)
        let releases = Atomic<Int>(0)
        let seen = Mutex<[Seen]>([])
    }

    /// Starts listening on 127.0.0.1 (a port the system picks); `answer` says how each request
    /// is answered.
    public init(answer: @escaping @Sendable (Seen) -> Answer) async throws {
        let listener = try await TCPListener.bind()
        let state = State()
        self.listener = listener
        self.state = state
        task = Task {
            await withDiscardingTaskGroup { group in
                while let connection = try? await listener.accept() {
                    group.addTask { await Self.serve(connection, state: state, answer: answer) }
                }
                group.cancelAll()
            }
        }
    }

    /// The address it listens on.
    public var address: SocketAddress { listener.localAddress }

    /// Answers that have sent their first part and hold a second (released or not).
    public var heldAnswers: Int { state.held.load(ordering: .relaxed) }

    /// The requests read so far, in order.
    public var requests: [Seen] { state.seen.withLock { $0 } }

    /// Lets the next held answer send its second part.
    public func release() { state.releases.add(1, ordering: .relaxed) }

    public func stop() async {
        listener.close()
        task.cancel()
        await task.value
    }

    // MARK: Serving a connection

    private static func serve(_ connection: TCPConnection, state: State, answer: @Sendable (Seen) -> Answer) async {
        var buffer: [UInt8] = []
        defer { connection.close() }
        while true {
            guard let request = await readRequest(connection, buffer: &buffer) else { return }
            state.seen.withLock { $0.append(request) }
            let answer = answer(request)
            guard (try? await connection.write(answer.first)) != nil else { return }
            guard let held = answer.held else { continue }
            let ticket = state.held.add(1, ordering: .relaxed).newValue
            do {
                try await waitUntil("the test to release held answer #\(ticket)", timeout: .seconds(120)) {
                    state.releases.load(ordering: .relaxed) >= ticket
                }
                try await connection.write(held)
            } catch {
                return
            }
        }
    }

    /// Reads one request (its head, then a `Content-Length` body); nil when the peer closed
    /// first or the head is not one this server reads.
    private static func readRequest(_ connection: TCPConnection, buffer: inout [UInt8]) async -> Seen? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while true {
            if buffer.count >= 4 {
                headEnd = (0...(buffer.count - 4)).first { Array(buffer[$0..<($0 + 4)]) == separator }
            }
            if headEnd != nil { break }
            guard let piece = try? await connection.read() else { return nil }
            buffer += piece
        }
        guard let headEnd else { return nil }
        let lines = String(decoding: buffer[..<headEnd], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let requestLine = lines.first?.split(separator: " ") ?? []
        guard requestLine.count == 3 else { return nil }
        var length = 0
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                length = Int(parts[1].filter { $0 != " " && $0 != "\t" }) ?? 0
            }
        }
        let bodyStart = headEnd + 4
        while buffer.count < bodyStart + length {
            guard let piece = try? await connection.read() else { return nil }
            buffer += piece
        }
        let body = Array(buffer[bodyStart..<(bodyStart + length)])
        buffer.removeFirst(bodyStart + length)
        return Seen(method: String(requestLine[0]), target: String(requestLine[1]), body: body)
    }
}
