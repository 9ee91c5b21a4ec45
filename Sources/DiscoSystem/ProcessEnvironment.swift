@preconcurrency import Glibc

// MARK: - Process environment and files

/// Thin, Foundation-free access to the process environment and small files.
public enum ProcessEnvironment {
    /// The value of environment variable `name`, or `nil` when it is unset.
    public static func value(_ name: String) -> String? {
        guard let pointer = getenv(name) else { return nil }
        return String(cString: pointer)
    }

    /// Why a file could not be read.
    public struct FileError: Error, Hashable, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cannot read \(path.debugDescription): \(reason)" }
    }

    /// Reads a whole file. Returns `nil` if there is no such file (ENOENT, ENOTDIR, ENAMETOOLONG,
    /// or an empty path), so callers can fall back to treating the text as something else; any
    /// other failure (permissions, a directory) is an error.
    public static func readFileIfExists(_ path: String, limit: Int = 16 << 20) throws(FileError) -> [UInt8]? {
        guard !path.isEmpty, !path.utf8.contains(0) else { return nil }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR || code == ENAMETOOLONG { return nil }
            throw FileError(path: path, reason: String(cString: strerror(code)))
        }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw FileError(path: path, reason: String(cString: strerror(code)))
            }
            if count == 0 { return contents }
            contents.append(contentsOf: chunk[0..<count])
            guard contents.count <= limit else { throw FileError(path: path, reason: "larger than \(limit) bytes") }
        }
    }
}
