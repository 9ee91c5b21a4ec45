import DiscoCore
import Foundation

// MARK: - The rules

/// Which target may depend on which, as DESIGN lays it out: protocol cores and the vocabulary do
/// no I/O and depend only on the vocabulary; shells depend on their cores, never the other way.
enum LayeringRules {
    /// Targets that must do no I/O, each with every target it may depend on.
    static let pureTargets: [String: Set<String>] = [
        "DiscoCore": [],
        "DiscoDNSMessage": [],
        "DNSServerCore": ["DiscoCore", "DiscoDNSMessage"],
        "RaftCore": ["DiscoCore"],
        "SWIMCore": ["DiscoCore"],
        "BootstrapCore": ["DiscoCore"],
        "LeaseCore": ["DiscoCore"],
        "RateLimitCore": [],
        "Sidecar": ["DiscoCore", "RateLimitCore"],
    ]

    /// Each shell and the core it runs.
    static let shells: [String: String] = [
        "DiscoRaft": "RaftCore",
        "DiscoSWIM": "SWIMCore",
        "Bootstrap": "BootstrapCore",
        "DiscoDNS": "DiscoDNSMessage",
        "DiscoDNSServer": "DNSServerCore",
        "SidecarProxy": "Sidecar",
        "HotCold": "LeaseCore",
    ]

    /// Modules a pure target's sources may import besides its dependencies: none of them reads a
    /// clock, a file, a socket or the environment (`Synchronization` is `Mutex` and atomics).
    static let pureImports: Set<String> = ["Synchronization"]

    /// Targets whose every task has an owner (a service group, a task group): their sources
    /// start no unstructured task.
    static let structuredTargets: Set<String> = ["NodeRuntime", "DiscoCLI", "DiscoLifecycle", "DiscoRoles", "HotColdNode"]

    /// I/O shells, whose tasks belong to the actor, server or run loop that started them: each
    /// unstructured task's handle is kept where its owner cancels or awaits it at shutdown
    /// (`let task = Task {`, `senderTask = Task(...)`, `tasks[id] = Task {`), or the task is
    /// started through an owner's tracked set (`OwnedTasks.spawn`, which creates no `Task` in the
    /// caller's source). A task whose handle is dropped (`Task {` as a statement, `_ = Task {`)
    /// is fire-and-forget and fails the test.
    static let ownedTaskTargets: Set<String> = [
        "DiscoNet", "DiscoRaft", "DiscoSWIM", "Bootstrap", "DiscoDNS", "DiscoDNSServer", "DiscoEtcd", "HotCold", "SidecarProxy",
    ]

    /// What starts an unstructured task.
    static let unstructuredTask = #"\bTask(\.detached)?\s*(\{|\()"#

    /// An unstructured task whose handle is kept: assigned to a named constant, variable,
    /// property or subscript (not to `_`).
    static let keptTask = #"(^|[^\w.])(let|var)?\s*(self\.)?[A-Za-z]\w*(\.\w+)*(\[[^\]]*\])?\s*(:[^=]*)?=\s*Task(\.detached)?\s*(\{|\()"#

    /// Support targets no library may depend on.
    static let testOnly: Set<String> = ["DiscoTestKit"]

    /// What pure sources must not call: clocks, sleeps, unstructured tasks, system randomness,
    /// the environment, dispatch queues. (Time and randomness come in as inputs.)
    static let impureCalls: [(pattern: String, what: String)] = [
        (#"\b(ContinuousClock|SuspendingClock)(\(\))?\.now\b"#, "reads a clock"),
        (#"\bDate\(\)"#, "reads the wall clock"),
        (#"\bTask\.sleep\b"#, "sleeps"),
        (#"\bTask(\.detached)?\s*\{"#, "starts an unstructured task"),
        (#"\bSystemRandomNumberGenerator\b"#, "uses system randomness"),
        (#"\b(getenv|ProcessInfo)\b"#, "reads the environment"),
        (#"\bDispatchQueue\b"#, "uses dispatch queues"),
    ]
}

// MARK: - The manifest

/// The targets of a package as `swift package dump-package` prints them.
struct PackageTargets {
    struct Target {
        var name: String
        /// `regular`, `executable`, `test`, `system`, ...
        var type: String
        var dependencies: [String]
        /// The target's directory relative to the package root (`Sources/<name>` unless given).
        var path: String
    }

    var targets: [String: Target]

    /// Reads the manifest JSON; a shape it does not know is an error naming what was expected.
    init(manifest: JSONValue) throws {
        guard let list = manifest["targets"]?.arrayValue else { throw LayeringError("the manifest has no \"targets\" array") }
        var targets: [String: Target] = [:]
        for entry in list {
            guard let name = entry["name"]?.stringValue, let type = entry["type"]?.stringValue else {
                throw LayeringError("a target without a name or type: \(entry)")
            }
            var dependencies: [String] = []
            for dependency in entry["dependencies"]?.arrayValue ?? [] {
                // {"byName": ["X", null]}, {"target": ["X", null]} or {"product": ["X", "package", ...]}
                guard let kind = dependency.objectValue?.first, let first = kind.value.arrayValue?.first?.stringValue else {
                    throw LayeringError("target \(name): a dependency of unknown shape: \(dependency)")
                }
                dependencies.append(first)
            }
            let folder = type == "test" ? "Tests" : "Sources"
            let path = entry["path"]?.stringValue ?? "\(folder)/\(name)"
            targets[name] = Target(name: name, type: type, dependencies: dependencies, path: path)
        }
        self.targets = targets
    }
}

struct LayeringError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Checking

enum LayeringCheck {
    /// Every way `targets` and the sources of its pure targets break the rules, one line each.
    /// `sources` maps a pure target to its Swift files (path and text).
    static func violations(_ package: PackageTargets, sources: [String: [(path: String, text: String)]]) -> [String] {
        var found: [String] = []
        for (name, allowed) in LayeringRules.pureTargets.sorted(by: { $0.key < $1.key }) {
            guard let target = package.targets[name] else {
                found.append("\(name): a pure target the rules name is missing from Package.swift")
                continue
            }
            for dependency in target.dependencies where !allowed.contains(dependency) {
                found.append("\(name) depends on \(dependency); a pure target may depend only on \(allowed.isEmpty ? "nothing" : allowed.sorted().joined(separator: ", "))")
            }
            let importable = allowed.union(LayeringRules.pureImports)
            for file in sources[name] ?? [] {
                found += violations(in: file, of: name, importable: importable)
            }
        }
        for (shell, core) in LayeringRules.shells.sorted(by: { $0.key < $1.key }) {
            guard let target = package.targets[shell] else {
                found.append("\(shell): a shell the rules name is missing from Package.swift")
                continue
            }
            if !target.dependencies.contains(core) { found.append("\(shell) does not depend on its core \(core)") }
        }
        for target in package.targets.values.sorted(by: { $0.name < $1.name }) where target.type == "regular" {
            for dependency in target.dependencies where LayeringRules.testOnly.contains(dependency) {
                found.append("library \(target.name) depends on \(dependency), which is test support")
            }
        }
        return found
    }

    /// Lines of one source file that start an unstructured task.
    static func unstructuredTasks(in file: (path: String, text: String), of target: String) -> [String] {
        var found: [String] = []
        for (number, line) in file.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            if code.range(of: LayeringRules.unstructuredTask, options: .regularExpression) != nil {
                found.append("\(file.path):\(number + 1): \(target) starts an unstructured task (give it an owner: a service or a task group): "
                    + line.trimmingCharacters(in: .whitespaces))
            }
        }
        return found
    }

    /// Lines of one shell source file that start an unstructured task and drop its handle.
    static func unownedTasks(in file: (path: String, text: String), of target: String) -> [String] {
        var found: [String] = []
        for (number, line) in file.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard code.range(of: LayeringRules.unstructuredTask, options: .regularExpression) != nil,
                  code.range(of: LayeringRules.keptTask, options: .regularExpression) == nil else { continue }
            found.append("\(file.path):\(number + 1): \(target) starts a task nobody owns (keep its handle where shutdown "
                + "cancels or awaits it, or start it through an owner's OwnedTasks): " + line.trimmingCharacters(in: .whitespaces))
        }
        return found
    }

    /// Imports and calls in one pure source file that do I/O.
    static func violations(in file: (path: String, text: String), of target: String, importable: Set<String>) -> [String] {
        var found: [String] = []
        for (number, line) in file.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            if let module = importedModule(code), !importable.contains(module) {
                found.append("\(file.path):\(number + 1): pure target \(target) imports \(module)")
            }
            for (pattern, what) in LayeringRules.impureCalls where code.range(of: pattern, options: .regularExpression) != nil {
                found.append("\(file.path):\(number + 1): pure target \(target) \(what): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        return found
    }

    /// The module an `import` line names (`@testable`, `@preconcurrency`, access levels and
    /// `import struct X.Y` forms included), or nil for any other line.
    static func importedModule(_ line: String) -> String? {
        var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        while let first = words.first, first.hasPrefix("@") || ["public", "package", "internal", "private", "fileprivate"].contains(first) {
            words.removeFirst()
        }
        guard words.first == "import", words.count >= 2 else { return nil }
        let kinds: Set<String> = ["struct", "class", "enum", "protocol", "func", "var", "let", "typealias"]
        let path = kinds.contains(words[1]) && words.count >= 3 ? words[2] : words[1]
        return path.split(separator: ".").first.map(String.init)
    }
}
