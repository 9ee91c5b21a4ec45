#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import DiscoCore
import DiscoSystem

// MARK: - PromiseFile

/// The durable record of a node's bootstrap promise (`<data-dir>/bootstrap-promise.json`):
/// `{"promise": <proposal> | null}`. Written atomically (temporary file, fsync, rename, fsync of
/// the directory), so after a crash the file holds either the old or the new promise, whole.
public struct PromiseFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The promise recorded, or `nil` when there is none (or no file yet).
    public func load() throws(PromiseFileError) -> Proposal? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            let code = errno
            if code == ENOENT { return nil }
            throw PromiseFileError(path: path, operation: "open", errno: code)
        }
        defer { close(descriptor) }
        var content: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw PromiseFileError(path: path, operation: "read", errno: errno)
            }
            if count == 0 { break }
            content += buffer[0..<count]
            guard content.count <= 1 << 20 else { throw PromiseFileError(path: path, detail: "larger than 1 MiB; not a promise file") }
        }
        do throws(BootstrapWireError) {
            let reader = try WireReader(body: content)
            guard let value = reader.object["promise"] else {
                throw BootstrapWireError(.missingField, field: "promise", message: "\"promise\" is missing; expected a proposal or null")
            }
            if value.isNull { return nil }
            return try BootstrapWire.proposal(from: WireReader(value, path: "promise"))
        } catch {
            throw PromiseFileError(path: path, detail: "\(error.message); delete the file only if no cluster was formed with this node")
        }
    }

    /// Records `proposal` (or its release, `nil`) durably before returning.
    public func save(_ proposal: Proposal?) throws(PromiseFileError) {
        let value: JSONValue = proposal.map { .object(BootstrapWire.proposalObject($0)) } ?? .null
        var bytes = JSONValue.object(JSONObject([.init(key: "promise", value: value)])).encodedBytes()
        bytes.append(UInt8(ascii: "\n"))
        do {
            try DurableFile.replace(path, with: bytes)
        } catch {
            throw PromiseFileError(path: error.path, operation: error.operation, errno: error.errno)
        }
    }
}

/// Why the promise file could not be read or written.
public struct PromiseFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let detail: String

    public init(path: String, detail: String) {
        self.path = path
        self.detail = detail
    }

    init(path: String, operation: String, errno code: Int32) {
        self.init(path: path, detail: "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))")
    }

    public var description: String { "bootstrap promise file \(path): \(detail)" }
}
