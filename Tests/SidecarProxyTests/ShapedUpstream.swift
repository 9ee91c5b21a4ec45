import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

// MARK: - An upstream that answers in many shapes and records every head

/// A raw HTTP/1.1 upstream (exact response bytes, keep-alive) that records each request head it
/// receives (method, target, every field in order) and answers by path: `/204`, `/304`,
/// `/chunked`, `/large` (200 KB), `/close` (`Content-Length` and `Connection: close`), `/eof`
/// (a body delimited by the close), `/drop` (the request is read, then the connection closed
/// without an answer), `/hold?of=N` (answered once N requests to it are waiting: N
/// upstream connections in use at once), anything else 200 with a `Date`, hop-by-hop fields and a
/// field `Connection` names, which the proxy must drop.
final class ShapedUpstream: Sendable {
    struct Head: Sendable, Equatable, CustomStringConvertible {
        var method: String
        var target: String
        var fields: [HTTPField]
        var bodyBytes: Int
        var description: String { "\(method) \(target) \(fields.map { "\($0.name): \($0.value)" }) body=\(bodyBytes)" }
    }

    let listener: TCPListener
    private let task: Task<Void, Never>
    private let seen: SeenHeads
    private let held: HeldCount

    static let largeBody: [UInt8] = (0..<200_000).map { UInt8(0x41 + $0 % 26) }

    private init(listener: TCPListener, seen: SeenHeads) {
        self.listener = listener
        self.seen = seen
        let held = HeldCount()
        self.held = held
        task = Task {
            await withDiscardingTaskGroup { group in
                while let connection = try? await listener.accept() {
                    group.addTask { await Self.serve(RawConnectionReader(connection), seen: seen, held: held) }
                }
                group.cancelAll()
            }
        }
    }

    static func start() async throws -> ShapedUpstream {
        ShapedUpstream(listener: try await TCPListener.bind(), seen: SeenHeads())
    }

    private static func serve(_ reader: RawConnectionReader, seen: SeenHeads, held: HeldCount) async {
        defer { reader.connection.close() }
        while let requestLine = await reader.line() {
            let parts = requestLine.split(separator: " ")
            guard parts.count == 3 else { return }
            var fields: [HTTPField] = []
            while let line = await reader.line(), !line.isEmpty {
                guard let colon = line.firstIndex(of: ":") else { return }
                fields.append(HTTPField(name: String(line[..<colon]), value: String(line[line.index(after: colon)...].drop { $0 == " " })))
            }
            let headers = HTTPHeaders(fields)
            var bodyBytes = 0
            if let length = headers["Content-Length"].flatMap({ Int($0) }) {
                guard let body = await reader.bytes(length) else { return }
                bodyBytes = body.count
            } else if headers["Transfer-Encoding"]?.lowercased() == "chunked" {
                while let sizeLine = await reader.line(), let size = Int(sizeLine, radix: 16) {
                    if size == 0 {
                        while let trailer = await reader.line(), !trailer.isEmpty {}
                        break
                    }
                    guard await reader.bytes(size + 2) != nil else { return }
                    bodyBytes += size
                }
            }
            let method = String(parts[0])
            let target = String(parts[1])
            let path = String(target.split(separator: "?", maxSplits: 1).first ?? "")
            seen.append(Head(method: method, target: target, fields: fields, bodyBytes: bodyBytes))
            if path == "/drop" { return }
            if path == "/hold" {
                held.value.add(1, ordering: .relaxed)
                let wanted = target.split(separator: "of=").last.flatMap { Int($0) } ?? 2
                do {
                    try await waitUntil("\(wanted) requests to /hold at once") { held.value.load(ordering: .relaxed) >= wanted }
                } catch {
                    return
                }
            }
            let (bytes, close) = answer(path: path, method: method)
            do { try await reader.connection.write(bytes) } catch { return }
            if close { return }
        }
    }

    /// The response bytes for `path`, and whether the connection closes after them.
    private static func answer(path: String, method: String) -> ([UInt8], close: Bool) {
        let head = method == "HEAD"
        func fixed(_ status: String, _ fields: [String], _ body: [UInt8]) -> [UInt8] {
            let text = (["HTTP/1.1 \(status)"] + fields + ["Content-Length: \(body.count)"]).joined(separator: "\r\n") + "\r\n\r\n"
            return Array(text.utf8) + (head ? [] : body)
        }
        switch path {
        case "/204":
            return (Array("HTTP/1.1 204 No Content\r\nX-Shape: 204\r\nKeep-Alive: timeout=5\r\n\r\n".utf8), false)
        case "/304":
            return (Array("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nX-Shape: 304\r\n\r\n".utf8), false)
        case "/chunked":
            let chunks = (0..<5).map { piece in let text = "piece \(piece);"; return "\(String(text.utf8.count, radix: 16))\r\n\(text)\r\n" }.joined()
            let text = "HTTP/1.1 200 OK\r\nX-Shape: chunked\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
            return (Array((head ? text : text + chunks + "0\r\nX-Sum: 5\r\n\r\n").utf8), false)
        case "/large":
            return (fixed("200 OK", ["X-Shape: large", "Content-Type: application/octet-stream"], largeBody), false)
        case "/close":
            return (fixed("200 OK", ["X-Shape: close", "Connection: close"], Array("closing \(method)".utf8)), true)
        case "/eof":
            return (Array("HTTP/1.1 200 OK\r\nX-Shape: eof\r\n\r\n\(head ? "" : "until the end")".utf8), true)
        default:
            return (fixed("200 OK", ["X-Shape: plain", "Connection: X-Resp-Secret, keep-alive", "X-Resp-Secret: dropped", "Keep-Alive: timeout=5",
                                     "Date: Tue, 01 Dec 2026 00:00:00 GMT", "X-Multi: a", "X-Multi: b", "Server: shaped"],
                          Array("plain \(method) \(path)".utf8)), false)
        }
    }

    var address: SocketAddress { listener.localAddress }

    /// The heads received so far, and forgets them.
    func take() -> [Head] { seen.take() }

    func stop() async {
        listener.close()
        task.cancel()
        await task.value
    }
}

/// The heads an upstream received, shared with its connections' tasks.
final class SeenHeads: Sendable {
    private let heads = Mutex<[ShapedUpstream.Head]>([])
    func append(_ head: ShapedUpstream.Head) { heads.withLock { $0.append(head) } }
    func take() -> [ShapedUpstream.Head] { heads.withLock { heads in defer { heads = [] }; return heads } }
}

/// Requests to `/hold` received so far.
final class HeldCount: Sendable {
    let value = Atomic<Int>(0)
}

/// Lines and counted bytes from a ``TCPConnection``, buffered (one task's).
final class RawConnectionReader {
    let connection: TCPConnection
    private var buffer: [UInt8] = []

    init(_ connection: TCPConnection) { self.connection = connection }

    /// The next CRLF-terminated line without its CRLF; nil at the end of the stream.
    func line() async -> String? {
        while true {
            if let end = buffer.indices.dropLast().first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                let line = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 2)
                return line
            }
            guard await fill() else { return nil }
        }
    }

    /// Exactly `count` bytes; nil when the stream ends first.
    func bytes(_ count: Int) async -> [UInt8]? {
        while buffer.count < count { guard await fill() else { return nil } }
        let bytes = Array(buffer[..<count])
        buffer.removeFirst(count)
        return bytes
    }

    private func fill() async -> Bool {
        guard let more = try? await connection.read(), !more.isEmpty else { return false }
        buffer += more
        return true
    }
}
