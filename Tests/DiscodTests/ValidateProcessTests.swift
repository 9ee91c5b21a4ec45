import DiscoTestKit
import Foundation
import Testing

/// `discod -validate`: the checks of a real start, then exit — 0 with the resolved settings, or 2
/// with the same message a start prints — without opening the data directory or binding a port.
@Suite struct ValidateProcessTests {
    /// The StatefulSet's command line with the downward-API values filled in.
    static let podArguments = [
        "-node-id=disco-0", "-http-addr=0.0.0.0:4001", "-http-adv-addr=10.1.2.3:4001",
        "-raft-addr=0.0.0.0:4002", "-raft-adv-addr=10.1.2.3:4002", "-disco-mode=dns-srv",
        #"-disco-config={"name":"disco-internal.default.svc.cluster.local","service":"http"}"#,
        "-bootstrap-expect=3", "data/node",
    ]

    func run(program: String = "discod", _ arguments: [String]) async throws -> (ExecutableRunner.Outcome, dataDirectoryExists: Bool) {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try await ExecutableRunner.run(program, arguments, in: directory)
        return (outcome, FileManager.default.fileExists(atPath: directory.appending(path: "data").path))
    }

    @Test func validCommandLinePrintsTheSettingsAndExitsZero() async throws {
        let (outcome, exists) = try await run(["-validate"] + Self.podArguments)
        #expect(outcome.status == 0, "stderr: \(outcome.standardError)")
        #expect(outcome.standardOutput.hasPrefix("discod: configuration is valid"))
        for line in ["  node_id=disco-0\n", "  http_adv_addr=10.1.2.3:4001\n", "  raft_adv_addr=10.1.2.3:4002\n",
                     "  formation=bootstrap-expect\n", "  bootstrap_expect=3\n", "  disco_mode=dns-srv\n", "  data_dir=data/node\n"] {
            #expect(outcome.standardOutput.contains(line), "stdout: \(outcome.standardOutput)")
        }
        #expect(outcome.standardError.isEmpty)
        #expect(!exists)
    }

    @Test func bindsNothing() async throws {
        // A port held by this test: a real start could not bind it, -validate never tries.
        let busy = try FreePort.Refusing()
        let (outcome, _) = try await run(["-validate", "-node-id", "1", "-http-addr", "127.0.0.1:\(busy.port)", "data"])
        #expect(outcome.status == 0, "stderr: \(outcome.standardError)")
        #expect(outcome.standardOutput.contains("  http_addr=127.0.0.1:\(busy.port)\n"))
    }

    @Test(arguments: [
        (["-no-such-flag"], "discod: flag provided but not defined: -no-such-flag"),
        (["-bootstrap-expect=3", "-disco-mode=dns-srv", #"-disco-config={"name":"x.local"}"#],
         #"disco-config for dns-srv: missing required field "service""#),
        (["-disco-mode=dns"], "-disco-mode dns needs -bootstrap-expect on a voting node"),
        (["-http-cert", "", "-http-key", ""], "-http-cert: the path is empty (an unset variable?)"),
        // -roles takes up to 32 names, but gossip metadata carries at most 16 roles in half a
        // datagram: the node would stop at SWIM's start, after creating its data directory.
        (["-roles", (1...17).map { "role\($0)" }.joined(separator: ",")], "-roles: 17 roles do not fit in gossip metadata"),
        (["-roles", (1...12).map { "r\($0)-" + String(repeating: "x", count: 55) }.joined(separator: ",")],
         "-roles: the roles do not fit in gossip metadata"),
    ])
    func badCommandLineFailsExactlyAsAStartDoes(flags: [String], message: String) async throws {
        let (validated, validatedCreated) = try await run(["-validate"] + flags + ["data"])
        let (started, startedCreated) = try await run(flags + ["data"])
        #expect(validated.status == 2)
        #expect(started.status == 2)
        #expect(validated.standardError == started.standardError)
        #expect(validated.standardError.contains(message), "stderr: \(validated.standardError)")
        #expect(validated.standardOutput.isEmpty)
        #expect(!validatedCreated && !startedCreated)
    }

    /// Backends are built at startup, so a configuration that parses but can never work is a
    /// command-line error (exit 2) for -validate and for a real start alike.
    @Test(arguments: [
        ("dns", #"{"name":"disco.local","nameserver":"kube-dns.kube-system:53"}"#, #"field "nameserver""#, "is not an IP address"),
        ("etcd-kv", #"{"endpoints":["https://127.0.0.1:2379"],"ca_file":"/nonexistent/disco-ca.pem"}"#, "ca_file",
         "/nonexistent/disco-ca.pem: cannot open"),
        ("consul-kv", #"{"address":"127.0.0.1:8500","token_file":"/nonexistent/consul-token"}"#, #"field "token_file""#,
         "cannot read /nonexistent/consul-token"),
    ])
    func unusableDiscoveryBackendExitsTwo(mode: String, config: String, field: String, reason: String) async throws {
        var flags = ["-node-id", "1", "-disco-mode", mode, "-disco-config", config]
        if mode == "dns" { flags += ["-bootstrap-expect", "3"] }
        for arguments in [["-validate"] + flags, flags] {
            let (outcome, exists) = try await run(arguments + ["data"])
            #expect(outcome.status == 2, "\(arguments): \(outcome.standardError)")
            #expect(outcome.standardError.hasPrefix("discod: invalid value for flag -disco-config: "))
            #expect(outcome.standardError.contains(field) && outcome.standardError.contains(reason), "stderr: \(outcome.standardError)")
            #expect(!exists)
        }
    }

    // MARK: -consensus etcd

    /// `-consensus etcd`: -validate says which engine and which etcd the node would use, without
    /// contacting etcd (nothing listens on the first endpoint); the default says raft.
    @Test func etcdConsensusIsNamedWithoutContactingEtcd() async throws {
        let nobody = try FreePort.Refusing()
        let config = #"{"endpoints":["127.0.0.1:\#(nobody.port)","http://localhost:2379"],"dial-timeout":"2s"}"#
        let (outcome, exists) = try await run(["-validate", "-node-id", "1", "-consensus", "etcd", "-consensus-config", config,
                                               "-disco-key", "prod", "data"])
        #expect(outcome.status == 0, "stderr: \(outcome.standardError)")
        #expect(outcome.standardOutput.contains("  consensus=etcd http://127.0.0.1:\(nobody.port),http://localhost:2379 under /prod/\n"),
                "stdout: \(outcome.standardOutput)")
        #expect(!outcome.standardOutput.contains("consensus_tls"))
        #expect(!exists)
        let (raft, _) = try await run(["-validate", "-node-id", "1", "data"])
        #expect(raft.status == 0 && raft.standardOutput.contains("  consensus=raft\n"), "stdout: \(raft.standardOutput)")
    }

    /// A -consensus-config that parses but cannot work (a CA or client certificate that cannot be
    /// read, an endpoint that is not host:port, a field etcd's client does not have) is a
    /// command-line error (exit 2) naming the flag and what is wrong, for -validate and a start alike.
    @Test(arguments: [
        (#"{"endpoints":["https://127.0.0.1:2379"],"ca_file":"/nonexistent/etcd-ca.pem"}"#, "/nonexistent/etcd-ca.pem: cannot open"),
        (#"{"endpoints":["127.0.0.1:2379"],"cert_file":"/nonexistent/node.pem","key_file":"/nonexistent/node-key.pem"}"#,
         "/nonexistent/node"),
        (#"{"endpoints":["etcd-0"]}"#, "element 0"),
        (#"{"endpoints":["127.0.0.1:2379"],"dial_timeout":"5s"}"#, "dial_timeout"),
    ])
    func unusableConsensusConfigExitsTwo(config: String, reason: String) async throws {
        let flags = ["-node-id", "1", "-consensus", "etcd", "-consensus-config", config]
        for arguments in [["-validate"] + flags, flags] {
            let (outcome, exists) = try await run(arguments + ["data"])
            #expect(outcome.status == 2, "\(arguments): \(outcome.standardError)")
            #expect(outcome.standardError.hasPrefix("discod: invalid value for flag -consensus-config: "), "stderr: \(outcome.standardError)")
            #expect(outcome.standardError.contains(reason), "stderr: \(outcome.standardError)")
            #expect(outcome.standardOutput.isEmpty)
            #expect(!exists)
        }
    }

    // MARK: Certificates that serve with a warning

    /// A certificate that has expired, or is not valid yet, still serves at a start, with a
    /// warning: -validate printed nothing about it (the proxy's not even at a start before it
    /// served, a not yet valid one nowhere). Now -validate warns as a start does, and exits 0.
    @Test func validateWarnsAboutCertificatesThatHaveExpiredOrAreNotValidYet() async throws {
        let certificates = try await CertificateFixture.make(name: "validate-validity")
        defer { certificates.remove() }
        let expired = try await certificates.issue("expired-api", validity: .expired)
        let future = try await certificates.issue("future-node", validity: .notYetValid)
        let valid = try await certificates.issue("valid-node")
        func expectWarnings(_ program: String, _ flags: [String], _ warnings: [[String]], quiet: Bool = false) async throws {
            let (outcome, exists) = try await run(program: program, ["-validate", "-node-id", "n1"] + flags + ["data"])
            #expect(outcome.status == 0, "\(program) \(flags): \(outcome.standardError)")
            #expect(outcome.standardOutput.hasPrefix("\(program): configuration is valid"), "stdout: \(outcome.standardOutput)")
            for fragments in warnings {
                let line = outcome.standardError.split(separator: "\n").first { line in fragments.allSatisfy { line.contains($0) } }
                #expect(line?.contains("level=warning") == true, "\(program) \(flags) must warn \(fragments): \(outcome.standardError)")
            }
            if quiet { #expect(outcome.standardError.isEmpty, "\(program) \(flags): \(outcome.standardError)") }
            #expect(!exists)
        }
        let expiredWarning = ["CN=expired-api", expired.certificate, "expired on Feb  1 00:00:00 2020 GMT"]
        let futureWarning = ["CN=future-node", future.certificate, "is not valid until", "peers that verify it refuse it until then",
                             "check this machine's clock"]
        try await expectWarnings("discod", ["-http-cert", expired.certificate, "-http-key", expired.key,
                                            "-node-cert", future.certificate, "-node-key", future.key], [expiredWarning, futureWarning])
        let proxy = ["-proxy-addr", "127.0.0.1:8443", "-upstream", "http://127.0.0.1:9984"]
        try await expectWarnings("disco-sidecar", proxy + ["-proxy-cert", expired.certificate, "-proxy-key", expired.key], [expiredWarning])
        try await expectWarnings("disco-sidecar", proxy + ["-proxy-cert", future.certificate, "-proxy-key", future.key], [futureWarning])
        try await expectWarnings("disco-sidecar", proxy + ["-proxy-cert", valid.certificate, "-proxy-key", valid.key,
                                                           "-node-cert", valid.certificate, "-node-key", valid.key], [], quiet: true)
    }

    // MARK: disco-sidecar

    /// disco-sidecar -validate printed the proxy's settings before the node's certificates were
    /// read, so an unusable -node-cert exited 2 with the settings on standard output (and a
    /// valid command line listed them above the "configuration is valid" line).
    @Test func sidecarValidatePrintsSettingsOnlyWhenEverythingIsValid() async throws {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("not a certificate\n".utf8).write(to: directory.appending(path: "junk.pem"))
        let proxy = ["-node-id", "n1", "-proxy-addr", "127.0.0.1:8080", "-upstream", "http://127.0.0.1:9984"]
        let bad = try await ExecutableRunner.run("disco-sidecar", ["-validate"] + proxy + ["-node-cert", "junk.pem", "-node-key", "junk.pem", "data"],
                                                 in: directory)
        #expect(bad.status == 2, "stderr: \(bad.standardError)")
        #expect(bad.standardError.contains("-node-cert junk.pem"), "stderr: \(bad.standardError)")
        #expect(bad.standardOutput.isEmpty, "stdout: \(bad.standardOutput)")
        let good = try await ExecutableRunner.run("disco-sidecar", ["-validate"] + proxy + ["data"], in: directory)
        #expect(good.status == 0, "stderr: \(good.standardError)")
        #expect(good.standardOutput.hasPrefix("disco-sidecar: configuration is valid"), "stdout: \(good.standardOutput)")
        #expect(good.standardOutput.contains("  proxy.addr=127.0.0.1:8080\n"), "stdout: \(good.standardOutput)")
        #expect(!FileManager.default.fileExists(atPath: directory.appending(path: "data").path))
    }

    /// A proxy listener on the API's port (or the Raft port, or another listener's) passed
    /// -validate, and the start failed to bind after the node had begun: both exit 2 naming both flags.
    @Test(arguments: [
        (["-proxy-addr", "127.0.0.1:4901"], "-http-addr 127.0.0.1:4901 and -proxy-addr 127.0.0.1:4901 would both listen on port 4901"),
        (["-proxy-addr", ":4902"], "-raft-addr 127.0.0.1:4902 and -proxy-addr :4902 would both listen on port 4902"),
        (["-proxy-addr", "127.0.0.1:4903", "-tcp-proxy", ":4903=127.0.0.1:9"],
         "-proxy-addr 127.0.0.1:4903 and -tcp-proxy :4903 would both listen on port 4903"),
    ])
    func sidecarListenersOnOnePortExitTwoNamingBothFlags(proxy: [String], message: String) async throws {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let node = ["-node-id", "n1", "-http-addr", "127.0.0.1:4901", "-raft-addr", "127.0.0.1:4902", "-upstream", "http://127.0.0.1:9"]
        let validated = try await ExecutableRunner.run("disco-sidecar", ["-validate"] + node + proxy + ["data"], in: directory)
        let started = try await ExecutableRunner.run("disco-sidecar", node + proxy + ["data"], in: directory)
        for outcome in [validated, started] {
            #expect(outcome.status == 2, "stderr: \(outcome.standardError)")
            #expect(outcome.standardError.contains(message), "stderr: \(outcome.standardError)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appending(path: "data").path))
    }
}
