import DiscoCore
import DiscoNet
import DiscoSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - Options

struct ElectOptions {
    var urls: [String]
    var name: String
    var value: String
    /// The lease's TTL in whole seconds (etcd raises it to its minimum, shown in the output).
    var ttl: Int
    var electedFile: String

    static func parse(_ arguments: [String]) -> ElectOptions {
        var set = FlagSet(programName: "disco-bench-node elect",
                          synopsis: "Usage: disco-bench-node elect -urls URL,... -name NAME -value VALUE -ttl SECONDS -elected-file PATH")
        let urls = BenchCommandLine.urlsFlag(&set)
        let name = set.string("name", usage: "the election's name", typeName: "name")
        let value = set.string("value", usage: "this candidate's proposal (its replica name)", typeName: "value")
        let ttl = set.int("ttl", default: 2, usage: "the session lease's TTL in seconds")
        let file = set.string("elected-file", usage: "where the leader key's revision is written once elected", typeName: "path")
        let parsed = BenchCommandLine.parse(set, arguments)
        guard !parsed[urls].isEmpty else { BenchCommandLine.usageError("-urls is required") }
        for (flag, text) in [("name", parsed[name]), ("value", parsed[value]), ("elected-file", parsed[file])] where text.isEmpty {
            BenchCommandLine.usageError("-\(flag) is required")
        }
        guard (1...3600).contains(parsed[ttl]) else { BenchCommandLine.usageError("-ttl must be 1...3600 seconds") }
        return ElectOptions(urls: parsed[urls], name: parsed[name], value: parsed[value], ttl: parsed[ttl], electedFile: parsed[file])
    }
}

// MARK: - A candidate in etcd's own election

/// What `etcdctl elect NAME VALUE` does (a session lease kept alive, then the server's
/// `Election.Campaign`), through etcd's v3 JSON gateway and with a TTL of our choosing:
/// `etcdctl elect` in etcd 3.4 always uses a 60 s session.
///
/// Grants a lease of `ttl` seconds, keeps it alive every third of its granted TTL (as the Go
/// client's session does), campaigns on it (`/v3/election/campaign` answers once this
/// candidate's key is the oldest in the election), then writes the leader key's revision to
/// `electedFile` (the replica's service accepts writes with it as the fencing token). A keep-alive
/// answered with no TTL left means the lease is gone: the file is removed and the process exits 1.
struct EtcdElection {
    let options: ElectOptions

    func run() async {
        let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(1), requestTimeout: .seconds(2)))
        let campaignClient = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(1), requestTimeout: .seconds(86_400)))
        let url = options.urls[0]
        guard let grant = try? await post(client, url + "/v3/lease/grant", "{\"TTL\":\(options.ttl)}"),
              let lease = grant["ID"]?.stringValue, let granted = grant["TTL"]?.stringValue.flatMap({ Int($0) }), granted > 0 else {
            BenchCommandLine.fail("cannot grant a lease of \(options.ttl) s at \(url)")
        }
        CommandLineTool.writeStandardOutput("lease id=\(lease) ttl=\(granted)\n")
        let options = self.options
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Keep-alive every third of the TTL, rotating over the members on failure.
                var attempt = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(granted * 1000 / 3))
                    let target = options.urls[attempt % options.urls.count]
                    guard let answer = try? await post(client, target + "/v3/lease/keepalive", "{\"ID\":\"\(lease)\"}") else {
                        attempt += 1
                        continue
                    }
                    let left = answer["result"]?["TTL"]?.stringValue.flatMap { Int($0) } ?? 0
                    if left <= 0 {
                        _ = unlink(options.electedFile)
                        BenchCommandLine.fail("lease \(lease) expired")
                    }
                }
            }
            let body = "{\"name\":\"\(Base64.encode(Array(options.name.utf8)))\",\"lease\":\"\(lease)\","
                + "\"value\":\"\(Base64.encode(Array(options.value.utf8)))\"}"
            guard let elected = try? await post(campaignClient, url + "/v3/election/campaign", body),
                  let revision = elected["leader"]?["rev"]?.stringValue, UInt64(revision) != nil else {
                BenchCommandLine.fail("the campaign in election \(options.name.debugDescription) failed")
            }
            do {
                try DurableFile.replace(options.electedFile, with: Array((revision + "\n").utf8))
            } catch {
                BenchCommandLine.fail("\(error)")
            }
            CommandLineTool.writeStandardOutput("elected rev=\(revision)\n")
            await group.next()
        }
    }

    /// POSTs `body` and parses the JSON answer; a non-200 answer is an error.
    private func post(_ client: HTTPClient, _ url: String, _ body: String) async throws -> JSONValue {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        let answer = try await client.send(HTTPClientRequest(method: "POST", url: url, headers: headers, body: Array(body.utf8)))
        guard answer.status == 200 else { throw ElectionError(description: "\(url) answered \(answer.status): \(answer.bodyText.prefix(160))") }
        return try JSONValue.parse(answer.body)
    }

    struct ElectionError: Error, CustomStringConvertible {
        let description: String
    }
}
