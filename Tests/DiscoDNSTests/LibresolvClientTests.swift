import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization
import Testing
@testable import DiscoDNS

/// The system path: glibc's reading of the resolver configuration, and glibc's policy over its
/// servers (in order, passing over failures) with Disco's own client.
@Suite struct LibresolvClientTests {
    let question = DNSQuestion(name: DNSName.root, type: .ns)

    /// Servers on 127.0.0.1; the timeout is generous unless a test waits for silent servers.
    func configuration(_ ports: [UInt16], timeout: Duration = .seconds(10), attempts: Int = 1)
        -> Result<SystemResolverConfiguration, SystemResolverConfigurationError>
    {
        .success(SystemResolverConfiguration(servers: ports.compactMap { SocketAddress(numericHost: "127.0.0.1", port: $0) },
                                             timeoutPerTry: timeout, attempts: attempts))
    }

    func nsRecord() throws -> DNSResourceRecord {
        DNSResourceRecord(name: .root, type: .ns, ttl: 60, data: .ns(try DNSName(parsing: "ns.disco.test")))
    }

    @Test func readsTheServersGlibcReadsFromResolvConf() throws {
        let configuration = try SystemResolverConfiguration.read().get()
        let text = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        let listed = text.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return words.count >= 2 && words[0] == "nameserver" ? String(words[1]) : nil
        }
        let expected = listed.isEmpty ? ["127.0.0.1"] : Array(listed.prefix(3))
        #expect(configuration.servers.map(\.host) == expected.map { $0.split(separator: "%").first.map(String.init) ?? $0 })
        #expect(configuration.servers.allSatisfy { $0.port == 53 })
        #expect(configuration.timeoutPerTry >= .seconds(1) && configuration.attempts >= 1)
    }

    @Test func aServerThatRefusesIsPassedOverForTheNext() async throws {
        let refusing = try ScriptedDNSServer(udp: { [reply(to: $0, rcode: 5)] })
        let record = try nsRecord()
        let answering = try ScriptedDNSServer(udp: { [reply(to: $0, answers: [record])] })
        defer { refusing.stop(); answering.stop() }
        let client = LibresolvClient(configuration: configuration([refusing.port, answering.port]))
        #expect(client.serverDescription == "system resolver (libresolv) at 127.0.0.1:\(refusing.port), 127.0.0.1:\(answering.port)")
        let answer = try await client.exchange(question)
        #expect(answer.answers == [record])
        // Alone, the refusing server's answer is what comes back (the resolver names the RCODE).
        let alone = LibresolvClient(configuration: configuration([refusing.port]))
        #expect(try await alone.exchange(question).header.responseCode == .refused)
    }

    @Test func closedAndSilentServersAreSkippedThenReported() async throws {
        let closed = try FreePort.loopback()
        let record = try nsRecord()
        let answering = try ScriptedDNSServer(udp: { [reply(to: $0, answers: [record])] })
        let silent = try ScriptedDNSServer(udp: { _ in [] })
        defer { answering.stop(); silent.stop() }
        #expect(try await LibresolvClient(configuration: configuration([closed, answering.port])).exchange(question).answers == [record])
        #expect(try await LibresolvClient(configuration: configuration([silent.port, answering.port], timeout: .seconds(2)))
            .exchange(question).answers == [record])

        let refused = await #expect(throws: DNSLookupError.self) {
            try await LibresolvClient(configuration: configuration([closed, try FreePort.loopback()])).exchange(question)
        }
        #expect(refused?.code == .connectionRefused)
        #expect(refused?.detail == "every configured server refused the connection")

        let asked = silent.queries.withLock { $0.count }
        let timedOut = await #expect(throws: DNSLookupError.self) {
            try await LibresolvClient(configuration: configuration([silent.port, closed], timeout: .milliseconds(300), attempts: 2)).exchange(question)
        }
        #expect(timedOut?.code == .timeout)
        #expect(timedOut?.detail == "no server answered (2 rounds over 2 servers)")
        #expect(silent.queries.withLock { $0.count } - asked == 2, "one try per round")
    }

    @Test func aServerThatSendsOnlyUnreadableRepliesIsPassedOverThenReported() async throws {
        let garbling = try ScriptedDNSServer(udp: { [NameserverClientTests.unreadable($0)] })
        let record = try nsRecord()
        let answering = try ScriptedDNSServer(udp: { [reply(to: $0, answers: [record])] })
        defer { garbling.stop(); answering.stop() }
        let answer = try await LibresolvClient(configuration: configuration([garbling.port, answering.port], timeout: .seconds(2)))
            .exchange(question)
        #expect(answer.answers == [record])

        let error = await #expect(throws: DNSLookupError.self) {
            try await LibresolvClient(configuration: configuration([garbling.port], timeout: .seconds(2))).exchange(question)
        }
        #expect(error?.code == .malformedAnswer)
        #expect(error?.detail.contains("could not be read") == true, "\(String(describing: error))")
    }

    @Test func anUnreadableConfigurationIsReportedAtQueryTime() async throws {
        let client = LibresolvClient(configuration: .failure(SystemResolverConfigurationError(reason: "res_ninit failed: test")))
        let error = await #expect(throws: DNSLookupError.self) { try await client.exchange(question) }
        #expect(error?.code == .systemFailure)
        #expect(error?.detail.contains("res_ninit failed: test") == true)
    }
}
