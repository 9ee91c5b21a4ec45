import DiscoSystem
import DiscoTestKit
import Foundation
import Testing

// MARK: - Replacing a file on a full disk

@Suite(.enabled(if: TmpfsFixture.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN)"))
struct DurableFileDiskFullTests {
    /// A replacement the disk has no room for fails naming ENOSPC, keeps the old file, and
    /// leaves no half-written temporary file taking the space that is left.
    @Test func replaceOnAFullDiskLeavesTheOldFileAndNoTemporaryFile() throws {
        let disk = try TmpfsFixture(size: 64 << 10)
        defer { disk.remove() }
        let path = disk.path + "/hardstate"
        try DurableFile.replace(path, with: [1, 2, 3])
        let error = #expect(throws: DurableFile.Failure.self) {
            try DurableFile.replace(path, with: [UInt8](repeating: 7, count: 256 << 10))
        }
        #expect(error?.errno == ENOSPC)
        #expect(FileManager.default.contents(atPath: path) == Data([1, 2, 3]))
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"), "the half-written temporary file was left behind")
    }
}
