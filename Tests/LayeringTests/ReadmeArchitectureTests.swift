import DiscoCore
import Foundation
import Testing

/// The README's architecture section must stay true to Package.swift: its module table names
/// every target (and nothing that is not one), and its diagram of layers puts every target in a
/// layer from which it depends only on its own layer and the ones below.
@Suite struct ReadmeArchitectureTests {
    @Test func moduleTableNamesEveryTargetOfThePackage() async throws {
        let package = try PackageTargets(manifest: try await LayeringTests.dumpPackage())
        let table = try ReadmeArchitecture.moduleTableNames(try Self.readme())
        let targets = Set(package.targets.values.filter { $0.type != "test" }.map(\.name))
        #expect(targets.subtracting(table).isEmpty, "targets missing from the README's module table: \(targets.subtracting(table).sorted())")
        #expect(table.subtracting(targets).isEmpty, "the README's module table names what is not a target: \(table.subtracting(targets).sorted())")
    }

    @Test func layerDiagramPlacesEveryTargetAboveItsDependencies() async throws {
        let package = try PackageTargets(manifest: try await LayeringTests.dumpPackage())
        let layers = try ReadmeArchitecture.layers(try Self.readme(), known: Set(package.targets.keys))
        let problems = ReadmeArchitecture.problems(package, layers: layers)
        #expect(problems.isEmpty, "the README's layer diagram does not match Package.swift:\n\(problems.joined(separator: "\n"))")
    }

    /// The checker itself: a target missing from the diagram, and one placed below a dependency.
    @Test func aDiagramThatDisagreesIsCaught() throws {
        let manifest = try LayeringTests.manifest(["DiscoCore": [], "RaftCore": ["DiscoCore"], "DiscoNet": ["DiscoCore"], "DiscoRaft": ["RaftCore", "DiscoNet"]])
        let readme = """
            Which target may depend on which: layers from top to bottom.

            ```
             shells        DiscoNet                                    below
             cores         RaftCore  DiscoRaft ──► RaftCore            DiscoCore only
            ```
            """
        let package = try PackageTargets(manifest: manifest)
        let layers = try ReadmeArchitecture.layers(readme, known: Set(package.targets.keys))
        #expect(layers.map(\.name) == ["shells", "cores"])
        #expect(ReadmeArchitecture.problems(package, layers: layers) == [
            "DiscoCore is in no layer of the diagram",
            "DiscoRaft (cores) depends on DiscoNet (shells), a layer above it",
        ])
    }

    static func readme() throws -> String {
        try String(contentsOf: LayeringTests.root.appending(path: "README.md"), encoding: .utf8)
    }
}

/// Reads the README's architecture section.
enum ReadmeArchitecture {
    struct Layer {
        var name: String
        var targets: [String]
    }

    /// The backquoted names in the first column of the table under "## Architecture" whose
    /// header is `| Module |`.
    static func moduleTableNames(_ readme: String) throws -> Set<String> {
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let section = lines.firstIndex(of: "## Architecture"),
              let header = lines[section...].firstIndex(where: { $0.hasPrefix("| Module |") }) else {
            throw LayeringError("README.md has no \"## Architecture\" section with a \"| Module |\" table")
        }
        var names: Set<String> = []
        for line in lines[(header + 2)...] {
            guard line.hasPrefix("|") else { break }
            let first = line.split(separator: "|", omittingEmptySubsequences: true).first ?? ""
            for (offset, part) in first.split(separator: "`", omittingEmptySubsequences: false).enumerated() where offset % 2 == 1 {
                names.insert(String(part))
            }
        }
        return names
    }

    /// The layers of the diagram after "Which target may depend on which", top to bottom. A line
    /// whose first 15 columns hold a label starts a layer, other lines continue it; the targets
    /// are the names before the first run of four spaces (the description comes after), except
    /// the core a shell's arrow points at.
    static func layers(_ readme: String, known: Set<String>) throws -> [Layer] {
        guard let start = readme.range(of: "Which target may depend on which"),
              let open = readme.range(of: "```\n", range: start.upperBound..<readme.endIndex),
              let close = readme.range(of: "\n```", range: open.upperBound..<readme.endIndex) else {
            throw LayeringError("README.md has no diagram after \"Which target may depend on which\"")
        }
        var layers: [Layer] = []
        for line in readme[open.upperBound..<close.lowerBound].split(separator: "\n") {
            let label = line.prefix(15).trimmingCharacters(in: .whitespaces)
            if !label.isEmpty { layers.append(Layer(name: label, targets: [])) }
            guard !layers.isEmpty else { throw LayeringError("the diagram's first line has no layer label: \(line)") }
            let rest = String(line.dropFirst(15)).trimmingCharacters(in: .whitespaces)
            let names = rest.components(separatedBy: "    ").first ?? ""
            var afterArrow = false
            for word in names.split(separator: " ") {
                // "Shell ──► Core" points at the core a shell runs; the core has its own layer.
                if word == "──►" { afterArrow = true; continue }
                guard known.contains(String(word)) else { throw LayeringError("the diagram names \"\(word)\", which is not a target") }
                if !afterArrow { layers[layers.count - 1].targets.append(String(word)) }
                afterArrow = false
            }
        }
        return layers
    }

    /// Targets the diagram leaves out, and dependencies that point up the layers. Test support
    /// (the layer of `DiscoTestKit`) may depend on anything; only executables may depend on it.
    static func problems(_ package: PackageTargets, layers: [Layer]) -> [String] {
        var rank: [String: (layer: Int, name: String)] = [:]
        for (index, layer) in layers.enumerated() {
            for target in layer.targets { rank[target] = (layers.count - index, layer.name) }
        }
        var found: [String] = []
        for target in package.targets.values.sorted(by: { $0.name < $1.name }) where target.type != "test" {
            guard let own = rank[target.name] else {
                found.append("\(target.name) is in no layer of the diagram")
                continue
            }
            if LayeringRules.testOnly.contains(target.name) { continue }
            for dependency in target.dependencies {
                guard let other = rank[dependency] else { continue }
                if LayeringRules.testOnly.contains(dependency) {
                    if target.type != "executable" { found.append("\(target.name) depends on test support \(dependency)") }
                } else if other.layer > own.layer {
                    found.append("\(target.name) (\(own.name)) depends on \(dependency) (\(other.name)), a layer above it")
                }
            }
        }
        return found
    }
}
