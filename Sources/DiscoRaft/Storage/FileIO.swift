#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import DiscoCore
import DiscoSystem

// MARK: - FileIO

/// Thin wrappers over POSIX file calls that turn failures into ``RaftError``s naming the path.
enum FileIO {
    static func failure(_ operation: String, _ path: String) -> RaftError {
        let code = errno
        return RaftError(.io, "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))")
    }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(RaftError) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("open", path) }
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(RaftError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress.map { $0 + written }, bytes.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("write", path)
            }
            written += result
        }
    }

    /// Writes `bytes` at `offset` (without moving the file position).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws(RaftError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress.map { $0 + written }, bytes.count - written, off_t(offset + written))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("write", path)
            }
            written += result
        }
    }

    static func rename(_ from: String, to path: String) throws(RaftError) {
        guard Glibc.rename(from, path) == 0 else { throw failure("rename", from) }
    }

    /// Reads until `buffer` is full or the file ends; returns how many bytes were read.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(RaftError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = Glibc.read(fd, buffer.baseAddress.map { $0 + filled }, buffer.count - filled)
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("read", path)
            }
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    /// Reads up to `count` bytes (fewer where the file ends).
    static func read(_ fd: Int32, count: Int, path: String) throws(RaftError) -> [UInt8] {
        var failure: RaftError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(RaftError) {
                initialized = try read(fd, into: UnsafeMutableRawBufferPointer(buffer), path: path)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return bytes
    }

    static func readAll(_ path: String) throws(RaftError) -> [UInt8] {
        let fd = try open(path, flags: O_RDONLY)
        defer { close(fd) }
        var result: [UInt8] = []
        // The file's size up front: a snapshot file is as large as the node's state, and a
        // buffer grown by doubling would peak at twice that.
        var info = stat()
        if fstat(fd, &info) == 0, info.st_size > 0 { result.reserveCapacity(Int(info.st_size)) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("read", path)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }

    static func sync(_ fd: Int32, path: String, dataOnly: Bool = false) throws(RaftError) {
        let result = dataOnly ? fdatasync(fd) : fsync(fd)
        guard result == 0 else { throw failure("fsync", path) }
    }

    static func syncDirectory(_ path: String) throws(RaftError) {
        do {
            try DurableFile.syncDirectory(path)
        } catch {
            throw RaftError(.io, error.description)
        }
    }

    static func truncate(_ path: String, to length: Int) throws(RaftError) {
        guard Glibc.truncate(path, off_t(length)) == 0 else { throw failure("truncate", path) }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func remove(_ path: String) throws(RaftError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw failure("unlink", path) }
    }

    /// Creates `path` and any missing parents.
    static func makeDirectory(_ path: String) throws(RaftError) {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash > path.startIndex else {
            throw failure("mkdir", path)
        }
        try makeDirectory(String(path[..<slash]))
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw failure("mkdir", path) }
    }

    /// Names in a directory (without "." and "..").
    static func list(_ path: String) throws(RaftError) -> [String] {
        guard let directory = opendir(path) else { throw failure("opendir", path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// Replaces `path` with `bytes` atomically: temp file, fsync, rename, directory fsync.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(RaftError) {
        try writeAtomically(parts: [bytes], to: path)
    }

    /// Replaces `path` with the concatenation of `parts` atomically, without joining them.
    static func writeAtomically(parts: [[UInt8]], to path: String) throws(RaftError) {
        do {
            try DurableFile.replace(path, withParts: parts)
        } catch {
            throw RaftError(.io, error.description)
        }
    }
}
