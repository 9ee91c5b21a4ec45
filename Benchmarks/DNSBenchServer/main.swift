// disco-bench-dns: the dns benchmark's server. Serves a fixed zone snapshot (a five-member
// cluster under `disco.`) with the DNS role's server on one event loop thread, and prints the
// same records as dnsmasq options and a dnsperf query file, so the anchor serves exactly what we
// serve and both are asked the same questions.
//
// Usage: disco-bench-dns serve [port]      prints "listening <port>" once ready
//        disco-bench-dns dnsmasq-args      one dnsmasq option per line
//        disco-bench-dns queries           a dnsperf data file, one "name type" per line
//        disco-bench-dns core [count]      answers the queries in process, no sockets: ns per query
import DiscoCore
import DiscoDNSServer
import DiscoNet

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

@main
struct DNSBenchServer {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let zone = try benchZone()
        switch arguments.count > 1 ? arguments[1] : "" {
        case "serve":
            let port = arguments.count > 2 ? UInt16(arguments[2]) ?? 0 : 0
            let server = try await DNSServer.start(configuration: DNSServerConfiguration(host: "127.0.0.1", port: port), zone: zone)
            print("listening \(server.port)")
            fflush(stdout)
            while true { try await Task.sleep(for: .seconds(3600)) }
        case "dnsmasq-args":
            for line in dnsmasqArguments(zone.contents) { print(line) }
        case "queries":
            for line in queries { print(line) }
        case "core":
            let count = arguments.count > 2 ? Int(arguments[2]) ?? 5_000_000 : 5_000_000
            print("core: \(Int(coreNanosecondsPerQuery(zone, count: count).rounded())) ns per query")
        default:
            FileHandleOutput.error("usage: disco-bench-dns serve [port] | dnsmasq-args | queries\n")
            exit(2)
        }
    }

    /// Five members, all performing `host`, two also `dns`; member 1 leads.
    static func benchZone() throws -> DNSZone {
        var members: [DNSZoneMember] = []
        for index in 1...5 {
            guard let id = NodeID("\(index)"), let address = DNSIPAddress(bytes: [10, 0, 0, UInt8(index)]) else { continue }
            members.append(DNSZoneMember(id: id, addresses: [address], apiPort: UInt16(4000 + index),
                                         roles: index <= 2 ? ["host", "dns"] : ["host"]))
        }
        let settings = try DNSZoneSettings(domain: "disco.", ttl: .seconds(30))
        return DNSZone(settings: settings, source: DNSZoneSource(members: members, leader: "1", nameServers: ["1", "2"], serial: 1))
    }

    /// The questions: a node, the leader, two roles (five and two addresses), a service (five
    /// SRV records with glue) and a name that does not exist.
    static let queries = [
        "1.node.disco A", "leader.disco A", "host.role.disco A", "dns.role.disco A", "_host._tcp.disco SRV", "missing.disco A",
    ]

    /// The answerer alone, over the benchmark's queries with EDNS (as dnsperf sends them without
    /// -e: plain; both shapes alternate here).
    static func coreNanosecondsPerQuery(_ zone: DNSZone, count: Int) -> Double {
        var wire: [[UInt8]] = []
        for (index, line) in queries.enumerated() {
            let parts = line.split(separator: " ")
            guard let name = try? DNSName(parsing: String(parts[0])) else { continue }
            let type: DNSRecordType = parts[1] == "SRV" ? .srv : .a
            let message = DNSMessage.query(id: UInt16(index), name: name, type: type, edns: index % 2 == 0 ? EDNS() : nil)
            if let bytes = try? message.encoded() { wire.append(bytes) }
        }
        let answerer = DNSAnswerer()
        var output = [UInt8](repeating: 0, count: 4096)
        var total = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            output.withUnsafeMutableBytes { out in
                for index in 0..<count {
                    total &+= wire[index % wire.count].withUnsafeBytes { answerer.respond(to: $0, over: .udp, zone: zone, into: out).length }
                }
            }
        }
        if total == 0 { print("no answers") }
        let (seconds, attoseconds) = elapsed.components
        return (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / Double(count)
    }

    /// The zone's A, AAAA and SRV records as dnsmasq options (`--local=/disco/` makes other names
    /// NXDOMAIN, as ours are).
    static func dnsmasqArguments(_ contents: DNSZoneContents) -> [String] {
        var lines = ["--local=/\(contents.settings.domain)/", "--local-ttl=\(contents.settings.ttl)"]
        for (name, records) in contents.names.sorted(by: { $0.key.description < $1.key.description }) {
            for record in records {
                switch record.data {
                case .address(let ip): lines.append("--host-record=\(name),\(ip)")
                case .srv(let srv): lines.append("--srv-host=\(name),\(srv.target),\(srv.port),\(srv.priority),\(srv.weight)")
                default: continue
                }
            }
        }
        return lines
    }
}

/// Writes to standard error.
enum FileHandleOutput {
    static func error(_ text: String) {
        _ = text.withCString { fputs($0, stderr) }
    }
}
