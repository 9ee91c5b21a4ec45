import DiscoCore
import DiscoSystem
import Foundation
import Testing

/// The process-facing half of the vocabulary against the real file system and environment.
@Suite struct SystemIOTests {
    /// A fresh directory under the system's temporary directory, removed by the caller.
    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "disco-system-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func durableReplaceWritesWholeFilesAndLeavesNoTemporary() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/node.json"
        try DurableFile.replace(path, with: Array("first".utf8))
        try DurableFile.replace(path, with: Array("second, longer".utf8))
        #expect(try ProcessEnvironment.readFileIfExists(path) == Array("second, longer".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["node.json"])
        #expect(DurableFile.directory(of: path) == directory)
    }

    @Test func durableReplaceNamesThePathThatFailed() throws {
        let missing = "/nonexistent-\(UUID().uuidString)/node.json"
        let error = #expect(throws: DurableFile.Failure.self) { try DurableFile.replace(missing, with: [1]) }
        #expect(error?.path.hasPrefix("/nonexistent-") == true)
        #expect(error?.description.contains("No such file or directory") == true)
    }

    @Test func readFileIfExistsTellsAbsentFromUnreadable() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try ProcessEnvironment.readFileIfExists(directory + "/absent.json") == nil)
        #expect(try ProcessEnvironment.readFileIfExists("") == nil)
        let error = #expect(throws: ProcessEnvironment.FileError.self) { try ProcessEnvironment.readFileIfExists(directory) }
        #expect(error?.path == directory)
        #expect(error?.description.contains("Is a directory") == true)
        let big = directory + "/big"
        try DurableFile.replace(big, with: [UInt8](repeating: 7, count: 2048))
        let limited = #expect(throws: ProcessEnvironment.FileError.self) { try ProcessEnvironment.readFileIfExists(big, limit: 1024) }
        #expect(limited?.reason == "larger than 1024 bytes")
    }

    @Test func fileLockIsExclusiveUntilReleased() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try FileLock(path: directory + "/node.lock")
        let refused = #expect(throws: FileLock.Failure.self) { try FileLock(path: directory + "/node.lock") }
        #expect(refused?.heldElsewhere == true)
        #expect(refused?.holder == getpid())  // the holder wrote its process ID into the file
        #expect(refused?.reason == "held by process \(getpid())")
        first.release()
        _ = try FileLock(path: directory + "/node.lock")
    }

    /// A copy of the lock's descriptor (what a child being spawned holds until its exec closes
    /// it) does not keep the lock held once it is released.
    @Test func aReleasedLockIsFreeWhileACopyOfItsDescriptorIsStillOpen() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/node.lock"
        let first = try FileLock(path: path)
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { Int32($0) }
        let original = try #require(descriptors.first { fd in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) == path
        })
        let copy = dup(original)
        #expect(copy >= 0)
        defer { close(copy) }
        first.release()
        _ = try FileLock(path: path)
    }

    // These read variables the test process already has: setting one (setenv) while other tests'
    // threads spawn processes or read the environment can crash the process.
    @Test func environmentLookupAndExpansionReadTheProcess() throws {
        let path = try #require(ProcessInfo.processInfo.environment["PATH"])
        #expect(ProcessEnvironment.value("PATH") == path)
        #expect(ProcessEnvironment.value("DISCO_SYSTEM_TEST_UNSET_\(UUID().uuidString.prefix(4))") == nil)
        #expect(EnvironmentExpansion.expandWithProcessEnvironment(#"{"path":"${PATH}"}"#) == #"{"path":""# + path + #""}"#)
    }

    @Test func systemLoaderReadsConfigFilesAndTheEnvironment() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/disco.json"
        try DurableFile.replace(path, with: Array(#"{"name":"disco.local","port":4101}"#.utf8))
        #expect(try DiscoConfigLoader.system.load(path, mode: .dns) == .dns(DNSConfig(name: "disco.local", port: 4101)))
        #expect(DiscoConfigLoader.system.environment("PATH") == ProcessInfo.processInfo.environment["PATH"])
    }

    @Test func systemClockIsTheWallClock() {
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
        #expect(abs(LogClock.system.now() - now) < 60 * 1_000_000_000)
    }
}
