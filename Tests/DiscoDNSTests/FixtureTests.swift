import DiscoTestKit
@preconcurrency import Glibc
import Testing

/// The test kit's process launcher and real-server fixtures (kept with the DNS tests, whose
/// area they belong to).
@Suite struct FixtureTests {
    @Test func childProcessCapturesOutputWhileRunningAndStopsOnSIGTERM() async throws {
        let child = ChildProcess(name: "sh", executable: "/bin/sh", arguments: ["-c", "echo ready; echo oops >&2; exec sleep 300"])
        try child.start()
        try await child.waitForOutput(containing: "ready")
        try await child.waitForOutput(containing: "oops")
        #expect(child.isRunning)
        let status = await child.stop()
        #expect(status == 128 + SIGTERM, "sleep ends on SIGTERM: the child must not inherit a blocked signal mask")
    }

    @Test func childProcessCanBePausedResumedAndKilled() async throws {
        let child = ChildProcess(name: "sleep", executable: "/bin/sleep", arguments: ["300"])
        try child.start()
        let pid = try #require(child.pid)
        child.send(SIGSTOP)
        try await waitUntil("sleep to be stopped") { Self.state(of: pid) == "T" }
        child.send(SIGCONT)
        try await waitUntil("sleep to run again") { Self.state(of: pid) == "S" || Self.state(of: pid) == "R" }
        child.send(SIGKILL)
        #expect(try await child.waitForExit() == 128 + SIGKILL)
    }

    @Test func missingBinaryFailsWithAClearMessage() {
        let child = ChildProcess(name: "nothing", executable: "/usr/sbin/no-such-binary", arguments: [])
        let error = #expect(throws: ChildProcess.Failure.self) { try child.start() }
        #expect(error?.description.contains("/usr/sbin/no-such-binary is missing") == true)
    }

    @Test func waitingForOutputFailsEarlyWhenTheProcessExits() async throws {
        let child = ChildProcess(name: "sh", executable: "/bin/sh", arguments: ["-c", "echo bye; exit 3"])
        try child.start()
        let error = await #expect(throws: ChildProcess.Failure.self) { try await child.waitForOutput(containing: "never") }
        #expect(error?.description.contains("status 3") == true)
    }

    @Test func dnsmasqFixtureAnswersAndStops() async throws {
        var records = DnsmasqFixture.Records()
        records.hosts = [("n1.disco.test", "10.0.0.1")]
        let dns = try await DnsmasqFixture.start(records)
        #expect(await LoopbackProbe.dnsAnswers(port: dns.port))
        await dns.stop()
        #expect(dns.process.exitStatus == 0)
        #expect(await LoopbackProbe.dnsAnswers(port: dns.port) == false)
    }

    @Test func etcdFixtureStartsAnswersHealthAndStops() async throws {
        let etcd = try await EtcdFixture.start()
        let member = try #require(etcd.members.first)
        #expect(await etcd.isHealthy(member))
        let version = await LoopbackProbe.httpGet(port: member.clientPort, path: "/version")
        #expect(version?.body.contains("etcdserver") == true)
        await etcd.stop()
        #expect(member.process.exitStatus != nil)
        #expect(await LoopbackProbe.httpGet(port: member.clientPort, path: "/health") == nil)
    }

    @Test func etcdFixtureRunsSeveralMembersAndStopsOne() async throws {
        let etcd = try await EtcdFixture.start(members: 3)
        #expect(etcd.endpoints.count == 3)
        await etcd.stopMember(0)
        #expect(etcd.members[0].process.exitStatus != nil)
        try await waitUntil("the two remaining members to stay healthy") {
            let second = await etcd.isHealthy(etcd.members[1])
            let third = await etcd.isHealthy(etcd.members[2])
            return second && third
        }
        await etcd.stop()
    }

    /// The state letter from /proc/<pid>/stat (R, S, T, Z, ...).
    static func state(of pid: Int32) -> String? {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 512)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let close = line.lastIndex(of: ")") else { return nil }
        return line[line.index(after: close)...].split(separator: " ").first.map(String.init)
    }
}
