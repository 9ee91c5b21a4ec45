import DiscoTestKit
import Foundation
import Testing

/// Runs one of the package's executables, built next to the test bundle, and captures its output.
struct ExecutableRunner {
    struct Outcome {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    /// The directory holding the built products (`.build/<triple>/debug`).
    static func productsDirectory() throws -> URL {
        URL(fileURLWithPath: try DiscodProcess.executable("discod")).deletingLastPathComponent()
    }

    /// Runs `name` with `arguments` in `directory` and waits for it to exit. The waiting happens
    /// on a dispatch queue of its own, never on the cooperative thread pool (two threads on this
    /// machine) nor on a global queue, whose threads Linux's Dispatch shares with that pool, so
    /// concurrently running tests keep making progress.
    /// `environment` is added to (and overrides) this process's environment; `input` goes to its
    /// standard input.
    static func run(_ name: String, _ arguments: [String], in directory: URL,
                    environment: [String: String] = [:], input: String? = nil) async throws -> Outcome {
        try await BlockingWork.run("discod-tests.executable-runner") {
            try runBlocking(name, arguments, in: directory, environment: environment, input: input)
        }
    }

    private static func runBlocking(_ name: String, _ arguments: [String], in directory: URL,
                                    environment: [String: String], input: String?) throws -> Outcome {
        let process = Process()
        process.executableURL = try productsDirectory().appending(path: name)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        }
        process.currentDirectoryURL = directory
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let inputPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
        try process.run()
        if let input {
            inputPipe.fileHandleForWriting.write(Data(input.utf8))
            try inputPipe.fileHandleForWriting.close()
        }
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        let errorData = Box()
        let group = DispatchGroup()
        DispatchQueue(label: "discod-tests.executable-stderr").async(group: group) { errorData.data = error.fileHandleForReading.readDataToEndOfFile() }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus,
                       standardOutput: String(decoding: outputData, as: UTF8.self),
                       standardError: String(decoding: errorData.data, as: UTF8.self))
    }

    /// Written by one background read, then read after `DispatchGroup.wait()`, which orders the two.
    final class Box: @unchecked Sendable {
        var data = Data()
    }

    /// A fresh empty directory for one test.
    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appending(path: "discod-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}
