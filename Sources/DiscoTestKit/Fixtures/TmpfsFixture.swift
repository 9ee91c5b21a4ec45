#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation

// MARK: - TmpfsFixture

/// A small tmpfs mounted on a fresh temporary directory, for tests of what storage does when the
/// disk is full (`ENOSPC`). Mounting needs root (`CAP_SYS_ADMIN`): suites that use it are
/// enabled only if ``canMount`` (CI runs as root). ``remove()`` unmounts it (lazily, so an open
/// file cannot keep it) and deletes the directory.
public final class TmpfsFixture: Sendable {
    public let path: String

    /// Mounts a tmpfs of `size` bytes.
    public init(size: Int) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("disco-tmpfs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(size)") == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: path)
            throw TmpfsFailure(description: "cannot mount a tmpfs on \(path): \(reason)")
        }
    }

    /// Changes the file system's size (a disk that was freed up).
    public func resize(to size: Int) throws {
        guard mount("tmpfs", path, "tmpfs", UInt(MS_REMOUNT), "size=\(size)") == 0 else {
            throw TmpfsFailure(description: "cannot resize the tmpfs on \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Unmounts the file system and removes its directory.
    public func remove() {
        umount2(path, Int32(MNT_DETACH))
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Whether this process may mount a tmpfs (tried once, on a directory of its own).
    public static let canMount: Bool = {
        guard geteuid() == 0, let probe = try? TmpfsFixture(size: 64 << 10) else { return false }
        probe.remove()
        return true
    }()
}

/// Why a tmpfs could not be mounted or resized.
public struct TmpfsFailure: Error, CustomStringConvertible {
    public let description: String
}
