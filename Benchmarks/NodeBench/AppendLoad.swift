import DiscoCore
import DiscoSystem
import DiscoNet

// MARK: - Options

struct AppendOptions {
    var url: String
    var kind: TargetKind
    var clients: Int
    var duration: Duration
    var warmup: Duration
    var requestTimeout: Duration

    static func parse(_ arguments: [String]) -> AppendOptions {
        var set = FlagSet(programName: "disco-bench-node append",
                          synopsis: "Usage: disco-bench-node append -url URL -kind disco|etcd -clients N -seconds S [flags]")
        let url = set.custom("url", default: nil as String?, defaultText: nil, typeName: "URL",
                             usage: "base URL of the node to write to (the leader)") { text throws(FlagValueError) in
            try BenchCommandLine.normalizedURL(text)
        }
        let kind = BenchCommandLine.kindFlag(&set)
        let clients = set.int("clients", default: 1, usage: "concurrent clients, each on its own keep-alive connection")
        let seconds = set.int("seconds", default: 10, usage: "measured seconds (after the warm-up)")
        let warmup = set.duration("warmup", default: .seconds(1), usage: "load before measuring starts")
        let requestTimeout = set.duration("request-timeout", default: .seconds(10), usage: "bound on one write")
        let parsed = BenchCommandLine.parse(set, arguments)
        guard (1...1024).contains(parsed[clients]) else { BenchCommandLine.usageError("-clients must be 1...1024") }
        guard (1...3600).contains(parsed[seconds]) else { BenchCommandLine.usageError("-seconds must be 1...3600") }
        guard parsed[warmup] >= .zero, parsed[requestTimeout] > .zero else {
            BenchCommandLine.usageError("-warmup must not be negative and -request-timeout must be positive")
        }
        return AppendOptions(url: BenchCommandLine.required(parsed[url], "url"), kind: BenchCommandLine.required(parsed[kind], "kind"),
                             clients: parsed[clients], duration: .seconds(parsed[seconds]), warmup: parsed[warmup],
                             requestTimeout: parsed[requestTimeout])
    }
}

// MARK: - Closed-loop load

/// `clients` writers, each sending its next write as soon as the previous one is answered, for
/// the warm-up and then the measured period. Only writes answered inside the measured period
/// count; a write counts when its answer says accepted (discod: 200 after commit and apply;
/// etcd: 200 with a response header).
struct AppendLoad {
    let options: AppendOptions

    private struct Tally: Sendable {
        var ops = 0
        var errors = 0
        var latencies: [Double] = []
        var firstError: String?
    }

    func run() async {
        let client = HTTPClient(configuration: HTTPClientConfiguration(
            connectTimeout: .seconds(5), requestTimeout: options.requestTimeout, maxConnectionsPerHost: options.clients))
        let clock = ContinuousClock()
        let measureFrom = clock.now + options.warmup
        let measureUntil = measureFrom + options.duration
        let options = self.options
        let total = await withTaskGroup(of: Tally.self) { group in
            for number in 0..<options.clients {
                group.addTask {
                    await Self.writeLoop(client: client, number: number, options: options, clock: clock,
                                         from: measureFrom, until: measureUntil)
                }
            }
            var sum = Tally()
            for await tally in group {
                sum.ops += tally.ops
                sum.errors += tally.errors
                sum.latencies.append(contentsOf: tally.latencies)
                sum.firstError = sum.firstError ?? tally.firstError
            }
            return sum
        }
        guard total.ops > 0 else {
            BenchCommandLine.fail("no write accepted by \(options.url) in \(options.duration); first error: \(total.firstError ?? "none")")
        }
        let latencies = total.latencies.sorted()
        let seconds = options.duration.seconds
        let rate = Double(total.ops) / seconds
        var line = "append kind=\(options.kind.rawValue) clients=\(options.clients) seconds=\(seconds.fixed(0)) ops=\(total.ops) "
        line += "errors=\(total.errors) rate=\(rate.fixed(1)) p50_ms=\(Self.percentile(latencies, 0.50).fixed(2)) "
        line += "p99_ms=\(Self.percentile(latencies, 0.99).fixed(2))\n"
        CommandLineTool.writeStandardOutput(line)
        if let firstError = total.firstError {
            CommandLineTool.writeStandardError("disco-bench-node: \(total.errors) writes failed; first: \(firstError)\n")
        }
    }

    private static func writeLoop(
        client: HTTPClient, number: Int, options: AppendOptions, clock: ContinuousClock,
        from: ContinuousClock.Instant, until: ContinuousClock.Instant
    ) async -> Tally {
        var tally = Tally()
        var sequence = 0
        while clock.now < until {
            sequence += 1
            let request = options.kind.writeRequest(
                base: options.url, client: number, payload: TargetKind.payload(client: number, sequence: sequence))
            let started = clock.now
            var accepted = false
            var failure: String?
            do {
                let response = try await client.send(request)
                accepted = options.kind.accepted(response)
                if !accepted { failure = "status \(response.status): \(String(response.bodyText.prefix(160)))" }
            } catch {
                failure = "\(error)"
            }
            let finished = clock.now
            if !accepted { try? await Task.sleep(for: .milliseconds(10)) }  // no busy loop on a refusing node
            guard finished >= from, finished <= until else { continue }
            if accepted {
                tally.ops += 1
                tally.latencies.append((finished - started).seconds * 1000)
            } else {
                tally.errors += 1
                tally.firstError = tally.firstError ?? failure
            }
        }
        return tally
    }

    private static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))
        return sorted[index]
    }
}
