import DiscoTestKit
import Foundation
import Testing

/// The release binaries (`scripts/release`, Swift runtime linked statically) run with no
/// environment at all from an empty directory, as in the runtime image, and form a cluster.
///
/// Release builds take minutes on small machines, so this runs when `DISCO_RELEASE_DIR` names
/// the built binaries: `scripts/test --release` (and `scripts/test` under CI, where `CI` is set)
/// builds them and sets it. Otherwise the test is skipped and says so.
@Suite struct ReleaseBinaryTests {
    static func releaseDirectory() throws -> String {
        guard let directory = ProcessInfo.processInfo.environment["DISCO_RELEASE_DIR"], !directory.isEmpty else {
            let reason = "DISCO_RELEASE_DIR is not set; scripts/test --release builds the release binaries and runs this"
            print("release binary test skipped: \(reason)")
            try Test.cancel(Comment(rawValue: reason))
        }
        return directory
    }

    @Test func staticBinariesFormAClusterFromAnEmptyDirectoryWithNoEnvironment() async throws {
        let release = try Self.releaseDirectory()
        let discod = "\(release)/discod"
        let discoctl = "\(release)/discoctl"
        for binary in [discod, discoctl] {
            #expect(FileManager.default.isExecutableFile(atPath: binary), "\(binary) is missing")
            let libraries = try await Command.check("ldd", [binary])
            #expect(!libraries.lowercased().contains("swift"), "\(binary) links Swift libraries dynamically:\n\(libraries)")
            #expect(!libraries.contains("not found"), "\(binary):\n\(libraries)")
        }

        let empty = NSTemporaryDirectory() + "disco-release-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let launcher = ["/usr/bin/env", "-i", "--chdir=\(empty)", discod]
        let ports = try DiscodCluster.ports(count: 3)
        let join = DiscodCluster.joinList(ports)
        var nodes: [DiscodProcess] = []
        defer { for node in nodes { node.process.send(SIGKILL) } }
        for (index, pair) in ports.enumerated() {
            nodes.append(try DiscodProcess(nodeID: "n\(index)", httpPort: pair.http, raftPort: pair.raft, dataDirectory: "data-n\(index)",
                                           flags: ["-bootstrap-expect", "3", "-join", join], launcher: launcher))
        }
        let leader = try await DiscodCluster.waitForLeader(nodes)
        #expect(["n0", "n1", "n2"].contains(leader))

        let append = try await Command.run("/usr/bin/env", ["-i", "--chdir=\(empty)", discoctl, "-addr", "127.0.0.1:\(ports[0].http)",
                                                            "events", "append", #"{"release":"check"}"#])
        #expect(append.succeeded, "discoctl: \(append.standardError)")
        try await DiscodCluster.waitUntil("the event to reach every node", watching: nodes) {
            for node in nodes where (try? await node.eventData())?.contains(#"{"release":"check"}"#) != true { return false }
            return true
        }
        for node in nodes { #expect(await node.terminate() == 0, "\(node.process.output.suffix(2000))") }
        // Nothing but the data directories was written where the nodes ran.
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty).sorted() == ["data-n0", "data-n1", "data-n2"])
    }
}
