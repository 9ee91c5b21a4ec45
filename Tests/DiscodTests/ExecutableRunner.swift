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

    /// Runs `name` with `arguments` in `directory` and waits for it to exit (on a dispatch queue
    /// of its own, never on the cooperative thread pool; see ``Command/run(_:_:environment:directory:input:timeout:)``).
    /// `environment` is added to (and overrides) this process's environment; `input` goes to its
    /// standard input.
    static func run(_ name: String, _ arguments: [String], in directory: URL,
                    environment: [String: String] = [:], input: String? = nil) async throws -> Outcome {
        let outcome = try await Command.run(
            try productsDirectory().appending(path: name).path, arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { _, added in added },
            directory: directory.path, input: input, timeout: .seconds(120))
        return Outcome(status: outcome.status, standardOutput: outcome.standardOutput, standardError: outcome.standardError)
    }

    /// A fresh empty directory for one test.
    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appending(path: "discod-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}
