import Foundation

// MARK: - DnsmasqFixture

/// A real `dnsmasq` (Debian `dnsmasq-base`) serving test records on 127.0.0.1 and a free port.
///
/// dnsmasq reads no system files (`--no-resolv --no-hosts --conf-file=/dev/null`) and has no
/// upstream, so it answers only from the records given here. Names under `localDomains` that it
/// does not know get NXDOMAIN; other unknown names get REFUSED.
public final class DnsmasqFixture: Sendable {
    /// An SRV record: `_service._proto.name priority weight port target`. An empty target makes
    /// dnsmasq answer with the target `.` ("service not available").
    public struct SRV: Sendable, Hashable {
        public var name: String
        public var target: String
        public var port: UInt16
        public var priority: UInt16
        public var weight: UInt16
        public init(name: String, target: String, port: UInt16, priority: UInt16 = 0, weight: UInt16 = 0) {
            self.name = name
            self.target = target
            self.port = port
            self.priority = priority
            self.weight = weight
        }
    }

    /// What dnsmasq serves.
    public struct Records: Sendable, Hashable {
        /// `--host-record`: A/AAAA records dnsmasq keeps in its cache (and adds as SRV glue).
        public var hosts: [(name: String, address: String)] = []
        /// `--address=/name/ip`: answers for a name and its subdomains, not kept in the cache.
        public var addresses: [(name: String, address: String)] = []
        /// `--srv-host`.
        public var srv: [SRV] = []
        /// `--cname=alias,target` (the target must be one of `hosts`).
        public var cnames: [(alias: String, target: String)] = []
        /// `--local=/domain/`: answered only from these records, so unknown names are NXDOMAIN.
        public var localDomains: [String] = []
        /// TTL for host records, `--local-ttl` (seconds).
        public var ttl: UInt32 = 30

        public init() {}

        public static func == (lhs: Records, rhs: Records) -> Bool { lhs.arguments == rhs.arguments }
        public func hash(into hasher: inout Hasher) { hasher.combine(arguments) }

        /// The dnsmasq options for these records.
        public var arguments: [String] {
            var out: [String] = ["--local-ttl=\(ttl)"]
            out += hosts.map { "--host-record=\($0.name),\($0.address)" }
            out += addresses.map { "--address=/\($0.name)/\($0.address)" }
            out += srv.map { $0.target.isEmpty ? "--srv-host=\($0.name)" : "--srv-host=\($0.name),\($0.target),\($0.port),\($0.priority),\($0.weight)" }
            out += cnames.map { "--cname=\($0.alias),\($0.target)" }
            out += localDomains.map { "--local=/\($0)/" }
            return out
        }
    }

    public static let executable = "/usr/sbin/dnsmasq"

    /// The UDP/TCP port dnsmasq listens on (127.0.0.1).
    public let port: UInt16
    /// `127.0.0.1:<port>`, the form discovery config's `nameserver` takes.
    public var nameserver: String { "127.0.0.1:\(port)" }
    /// The running process (its output holds dnsmasq's log).
    public let process: ChildProcess

    private init(port: UInt16, process: ChildProcess) {
        self.port = port
        self.process = process
    }

    /// Starts dnsmasq and returns once it answers queries. Retries with a new port when the
    /// chosen one was taken in the meantime.
    public static func start(_ records: Records, logQueries: Bool = false, timeout: Duration = .seconds(30)) async throws -> DnsmasqFixture {
        var lastFailure: (any Error)?
        for _ in 0..<5 {
            let port = try FreePort.loopback()
            var arguments = [
                "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                "--listen-address=127.0.0.1", "--bind-interfaces", "--port=\(port)", "--log-facility=-",
            ]
            if logQueries { arguments.append("--log-queries=extra") }
            arguments += records.arguments
            let process = ChildProcess(name: "dnsmasq", executable: executable, arguments: arguments)
            try process.start()
            let fixture = DnsmasqFixture(port: port, process: process)
            do {
                try await waitUntil("dnsmasq on 127.0.0.1:\(port) to answer", timeout: timeout) {
                    if let status = process.exitStatus {
                        throw ChildProcess.Failure(description: "dnsmasq exited with status \(status):\n\(process.output)")
                    }
                    return await LoopbackProbe.dnsAnswers(port: port)
                }
                return fixture
            } catch {
                lastFailure = error
                await process.stop()
                // "Address already in use": someone took the port; try another.
                guard process.output.contains("in use") else { throw error }
            }
        }
        throw lastFailure ?? ChildProcess.Failure(description: "dnsmasq did not start")
    }

    /// Stops dnsmasq (SIGTERM, then SIGKILL).
    public func stop() async {
        await process.stop()
    }
}

// MARK: - Scoped use

extension DnsmasqFixture {
    /// Starts dnsmasq, runs `body`, and stops dnsmasq whether `body` succeeds or throws.
    public static func with<T>(
        _ records: Records, logQueries: Bool = false, _ body: (DnsmasqFixture) async throws -> T
    ) async throws -> T {
        let fixture = try await start(records, logQueries: logQueries)
        do {
            let result = try await body(fixture)
            await fixture.stop()
            return result
        } catch {
            await fixture.stop()
            throw error
        }
    }
}
