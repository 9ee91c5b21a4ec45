import DiscoCore
import DiscoSystem

// MARK: - Shared command-line pieces

/// Usage text, error exits and flag helpers shared by the subcommands.
enum BenchCommandLine {
    static let overview = """
        Usage: disco-bench-node SUBCOMMAND [flags]

          wait-write -urls URL,... -kind disco|etcd [-since EPOCH_S] [-timeout 30s] [-interval 20ms]
              Writes to every URL over and over until one write is accepted; prints
              accepted url=<url> elapsed=<s since -since> attempts=<n>
          leader -urls URL,... -kind disco|etcd [-timeout 30s]
              Waits until every URL names the same leader; prints
              leader index=<0-based position in -urls> url=<url> id=<leader id>
          append -url URL -kind disco|etcd -clients N -seconds S [-warmup 1s]
              N clients write back to back for S seconds (after the warm-up); prints
              append kind=<k> clients=<n> seconds=<s> ops=<n> errors=<n> rate=<ops/s> p50_ms=<ms> p99_ms=<ms>

        disco: POST <url>/events with a small JSON body (200 = committed and applied).
        etcd:  POST <url>/v3/kv/put through etcd's v3 JSON gateway, same value bytes.
        service: POST <url>/orders (a hot/cold service or its sidecar; 200 = accepted by the store).

          elect -urls URL,... -name NAME -value VALUE -ttl SECONDS -elected-file PATH
              Campaigns in etcd's election NAME on a lease of SECONDS, kept alive every third
              of it; once elected writes the leader key's revision (a fencing token) to PATH
              and prints `elected rev=<n>`; exits 1 when the lease is lost.

        """

    static func usageError(_ message: String) -> Never {
        CommandLineTool.writeStandardError("disco-bench-node: \(message)\nRun 'disco-bench-node help' for usage.\n")
        CommandLineTool.exit(2)
    }

    static func fail(_ message: String) -> Never {
        CommandLineTool.writeStandardError("disco-bench-node: \(message)\n")
        CommandLineTool.exit(1)
    }

    /// Parses flags, exiting 2 with a message naming the bad flag.
    static func parse(_ set: FlagSet, _ arguments: [String]) -> ParsedFlags {
        let parsed: ParsedFlags
        do {
            parsed = try set.parse(arguments)
        } catch {
            CommandLineTool.fail(error, flagSet: set)
        }
        if let extra = parsed.positionals.first {
            usageError("unexpected argument \(extra.debugDescription) for \(set.programName)")
        }
        return parsed
    }

    static func kindFlag(_ set: inout FlagSet) -> Flag<TargetKind?> {
        set.custom("kind", default: nil, defaultText: nil, typeName: "disco|etcd|service",
                   usage: "what the URLs point at: discod nodes, etcd members or hot/cold services (POST /orders)") { text throws(FlagValueError) in
            guard let kind = TargetKind(rawValue: text) else {
                throw FlagValueError("expected disco, etcd or service")
            }
            return kind
        }
    }

    static func urlsFlag(_ set: inout FlagSet) -> Flag<[String]> {
        set.custom("urls", default: [], defaultText: nil, typeName: "URL,...",
                   usage: "base URLs of the nodes, such as http://127.0.0.1:4001") { text throws(FlagValueError) in
            let urls = text.split(separator: ",", omittingEmptySubsequences: true).map { String($0) }
            guard !urls.isEmpty else { throw FlagValueError("expected at least one http://host:port") }
            return try urls.map(normalizedURL)
        }
    }

    /// `host:port` or `http://host:port[/]` as `http://host:port`.
    static func normalizedURL(_ text: String) throws(FlagValueError) -> String {
        var url = text
        if !url.lowercased().hasPrefix("http://") {
            guard !url.contains("://") else { throw FlagValueError("\(text.debugDescription) is not http://host:port") }
            url = "http://" + url
        }
        while url.hasSuffix("/") { url.removeLast() }
        guard url.count > "http://".count else { throw FlagValueError("\(text.debugDescription) has no host") }
        return url
    }

    static func required<Value>(_ value: Value?, _ flag: String) -> Value {
        guard let value else { usageError("-\(flag) is required") }
        return value
    }
}

// MARK: - Formatting

extension Double {
    /// Fixed-point text with `digits` decimals (no Foundation needed).
    func fixed(_ digits: Int) -> String {
        guard isFinite else { return "nan" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (self * scale).rounded()
        let negative = scaled < 0
        let magnitude = Int64(abs(scaled))
        let whole = magnitude / Int64(scale)
        var fraction = String(magnitude % Int64(scale))
        while fraction.count < digits { fraction = "0" + fraction }
        let sign = negative ? "-" : ""
        return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
