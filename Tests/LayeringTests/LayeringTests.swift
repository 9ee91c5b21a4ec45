import DiscoCore
import DiscoTestKit
import Foundation
import Testing

/// The layering DESIGN asks for, checked against the real Package.swift and sources: a core that
/// gains an I/O dependency, or a shell that loses its core, fails here.
@Suite struct LayeringTests {
    /// The package root (this file is `Tests/LayeringTests/LayeringTests.swift`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func packageFollowsTheLayering() async throws {
        let package = try PackageTargets(manifest: try await Self.dumpPackage())
        var sources: [String: [(path: String, text: String)]] = [:]
        for name in LayeringRules.pureTargets.keys {
            guard let target = package.targets[name] else { continue }
            sources[name] = try Self.swiftFiles(under: target.path)
        }
        #expect(sources.values.allSatisfy { !$0.isEmpty }, "every pure target has sources to check")
        // Off the cooperative pool: the checks are seconds of regular expressions in a debug build.
        let checked = sources
        let violations = await CPUBoundWork.run { LayeringCheck.violations(package, sources: checked) }
        #expect(violations.isEmpty, "layering violations:\n\(violations.joined(separator: "\n"))")
    }

    /// The node, the executable layer and the lifecycle own every task they start.
    @Test func nodeTasksHaveOwners() async throws {
        let package = try PackageTargets(manifest: try await Self.dumpPackage())
        var found: [String] = []
        for name in LayeringRules.structuredTargets.sorted() {
            let target = try #require(package.targets[name], "\(name) is in Package.swift")
            for file in try Self.swiftFiles(under: target.path) { found += LayeringCheck.unstructuredTasks(in: file, of: name) }
        }
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
        let bad = LayeringCheck.unstructuredTasks(in: ("Sources/NodeRuntime/Bad.swift", """
            group.addTask { await work() }
            // Task { in a comment }
            Task { await work() }
            let handle = Task.detached { await work() }
            """), of: "NodeRuntime")
        #expect(bad.map { String($0.prefix(33)) } == ["Sources/NodeRuntime/Bad.swift:3: ", "Sources/NodeRuntime/Bad.swift:4: "], "\(bad)")
    }

    @Test func shellTasksHaveOwners() async throws {
        let package = try PackageTargets(manifest: try await Self.dumpPackage())
        var paths: [(name: String, path: String)] = []
        for name in LayeringRules.ownedTaskTargets.sorted() {
            let target = try #require(package.targets[name], "\(name) is in Package.swift")
            paths.append((name, target.path))
        }
        // Off the cooperative pool: reading and scanning every file of the shells takes seconds
        // in a debug build.
        let scanned = paths
        let found = try await CPUBoundWork.run { () -> Result<[String], any Error> in
            Result {
                var found: [String] = []
                for (name, path) in scanned {
                    for file in try Self.swiftFiles(under: path) { found += LayeringCheck.unownedTasks(in: file, of: name) }
                }
                return found
            }
        }.get()
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
        let bad = LayeringCheck.unownedTasks(in: ("Sources/DiscoNet/Bad.swift", """
            connections.spawn(executorPreference: loop) { await serve() }
            // Task { in a comment }
            Task(executorPreference: loop) { await self.runHandlers() }
            Task { await self.shutdown() }
            _ = Task.detached { await work() }
            let handle = Task { await work() }
            senderTask = Task(executorPreference: loop) { await send() }
            state.running[id] = Task(executorPreference: preference) { [self] in
            self.poller = Task.detached { await poll() }
            """), of: "DiscoNet")
        #expect(bad.map { String($0.prefix(30)) } == [
            "Sources/DiscoNet/Bad.swift:3: ", "Sources/DiscoNet/Bad.swift:4: ", "Sources/DiscoNet/Bad.swift:5: ",
        ], "\(bad)")
    }

    @Test func aCoreThatGainsAnIODependencyIsCaught() throws {
        let manifest = try Self.manifest(["RaftCore": ["DiscoCore", "DiscoNet"], "DiscoRaft": ["DiscoNet"], "NodeRuntime": ["DiscoTestKit"]])
        let violations = LayeringCheck.violations(try PackageTargets(manifest: manifest), sources: [:])
        #expect(violations.contains("RaftCore depends on DiscoNet; a pure target may depend only on DiscoCore"), "\(violations)")
        #expect(violations.contains("DiscoRaft does not depend on its core RaftCore"), "\(violations)")
        #expect(violations.contains("library NodeRuntime depends on DiscoTestKit, which is test support"), "\(violations)")
        #expect(violations.contains("SWIMCore: a pure target the rules name is missing from Package.swift"), "\(violations)")
    }

    @Test func pureSourcesThatDoIOAreCaught() {
        let text = """
            import DiscoCore
            @preconcurrency import Glibc
            import struct Foundation.Date
            // ContinuousClock.now in a comment is fine
            let started = ContinuousClock.now
            let stamp = Date()
            let seed = UInt64.random(in: 0...9, using: &generator)
            """
        let found = LayeringCheck.violations(in: ("Sources/RaftCore/Bad.swift", text), of: "RaftCore", importable: ["DiscoCore"])
        #expect(found == [
            "Sources/RaftCore/Bad.swift:2: pure target RaftCore imports Glibc",
            "Sources/RaftCore/Bad.swift:3: pure target RaftCore imports Foundation",
            "Sources/RaftCore/Bad.swift:5: pure target RaftCore reads a clock: let started = ContinuousClock.now",
            "Sources/RaftCore/Bad.swift:6: pure target RaftCore reads the wall clock: let stamp = Date()",
        ])
    }

    // MARK: Helpers

    /// A manifest with the given targets and dependencies (library targets).
    static func manifest(_ targets: [String: [String]]) throws -> JSONValue {
        let entries = targets.sorted(by: { $0.key < $1.key }).map { name, dependencies in
            let deps = dependencies.map { #"{"byName":["\#($0)",null]}"# }.joined(separator: ",")
            return #"{"name":"\#(name)","type":"regular","dependencies":[\#(deps)]}"#
        }
        return try JSONValue.parse(#"{"targets":[\#(entries.joined(separator: ","))]}"#)
    }

    /// Every `.swift` file under `path` (relative to the package root), with its text.
    static func swiftFiles(under path: String) throws -> [(path: String, text: String)] {
        let directory = root.appending(path: path)
        guard let walker = FileManager.default.enumerator(atPath: directory.path) else { return [] }
        var files: [(path: String, text: String)] = []
        for case let relative as String in walker where relative.hasSuffix(".swift") {
            files.append(("\(path)/\(relative)", try String(contentsOf: directory.appending(path: relative), encoding: .utf8)))
        }
        return files.sorted { $0.path < $1.path }
    }

    /// `swift package dump-package` for this package, in a scratch directory of its own so it
    /// never waits for the lock of the build that runs these tests.
    static func dumpPackage() async throws -> JSONValue {
        let scratch = FileManager.default.temporaryDirectory.appending(path: "disco-layering-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outcome = try await Command.run(
            "/usr/bin/env", ["swift", "package", "--package-path", root.path, "--scratch-path", scratch.path, "dump-package"],
            timeout: .seconds(300))
        guard outcome.succeeded else {
            throw LayeringError("swift package dump-package exited \(outcome.status): \(outcome.standardError)")
        }
        let output = Array(outcome.standardOutput.utf8)
        return try JSONValue.parse(output)
    }
}
