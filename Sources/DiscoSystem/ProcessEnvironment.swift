import DiscoCore
@preconcurrency import Glibc

// MARK: - Process environment and files

/// Thin, Foundation-free access to the process environment and small files.
extension ProcessEnvironment {
    /// The value of environment variable `name`, or `nil` when it is unset.
    public static func value(_ name: String) -> String? {
        guard let pointer = getenv(name) else { return nil }
        return String(cString: pointer)
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

// MARK: - disco-config from the process

extension DiscoConfigLoader {
    /// Reads `-disco-config` files from the file system and expands `$VAR` from the process
    /// environment.
    public static let system = DiscoConfigLoader(
        environment: ProcessEnvironment.value,
        readFile: { path throws(ProcessEnvironment.FileError) in try ProcessEnvironment.readFileIfExists(path) })
}

extension EnvironmentExpansion {
    /// Expands with the process environment.
    public static func expandWithProcessEnvironment(_ text: String) -> String {
        expand(text, lookup: ProcessEnvironment.value)
    }
}
