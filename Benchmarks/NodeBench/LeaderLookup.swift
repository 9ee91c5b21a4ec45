import DiscoCore
import DiscoSystem
import DiscoNet

// MARK: - Options

struct LeaderOptions {
    var urls: [String]
    var kind: TargetKind
    var timeout: Duration

    static func parse(_ arguments: [String]) -> LeaderOptions {
        var set = FlagSet(programName: "disco-bench-node leader",
                          synopsis: "Usage: disco-bench-node leader -urls URL,... -kind disco|etcd [-timeout 30s]")
        let urls = BenchCommandLine.urlsFlag(&set)
        let kind = BenchCommandLine.kindFlag(&set)
        let timeout = set.duration("timeout", default: .seconds(30), usage: "give up after this long")
        let parsed = BenchCommandLine.parse(set, arguments)
        guard !parsed[urls].isEmpty else { BenchCommandLine.usageError("-urls is required") }
        guard parsed[kind] != .service else { BenchCommandLine.usageError("-kind service has no leader to look up; use disco or etcd") }
        return LeaderOptions(urls: parsed[urls], kind: BenchCommandLine.required(parsed[kind], "kind"), timeout: parsed[timeout])
    }
}

// MARK: - Agreed leader

/// Polls every node until all name the same leader, then prints which of the given URLs it is.
///
/// discod: `GET /leader` → `{"id","api_addr","addr"}` on every node; the leader's URL is its
/// `api_addr`. etcd: `/v3/maintenance/status` → `header.member_id` and `leader`; the leader is
/// the member whose own ID is the leader ID.
struct LeaderLookup {
    let options: LeaderOptions

    /// One node's view: the leader's ID and, when the node itself is the leader (etcd) or the
    /// answer names it (discod), the leader's URL.
    private struct View: Equatable {
        var leaderID: String
        var leaderURL: String?
    }

    func run() async {
        let client = HTTPClient(configuration: HTTPClientConfiguration(
            connectTimeout: .seconds(1), requestTimeout: .seconds(1), maxConnectionsPerHost: 1))
        let clock = ContinuousClock()
        let deadline = clock.now + options.timeout
        var lastProblem = "no answer yet"
        while clock.now < deadline {
            var views: [View] = []
            for url in options.urls {
                do {
                    let response = try await client.send(options.kind.leaderRequest(base: url))
                    switch view(of: response, from: url) {
                    case .success(let value): views.append(value)
                    case .failure(let problem): lastProblem = "\(url): \(problem.reason)"
                    }
                } catch {
                    lastProblem = "\(error)"
                }
            }
            if views.count == options.urls.count, let first = views.first, views.allSatisfy({ $0.leaderID == first.leaderID }),
               let leaderURL = views.compactMap(\.leaderURL).first {
                guard let index = options.urls.firstIndex(of: leaderURL) else {
                    BenchCommandLine.fail("the leader \(first.leaderID) is at \(leaderURL), which is none of \(options.urls.joined(separator: ", "))")
                }
                CommandLineTool.writeStandardOutput("leader index=\(index) url=\(leaderURL) id=\(first.leaderID)\n")
                return
            } else if views.count == options.urls.count {
                lastProblem = "nodes disagree: \(views.map(\.leaderID).joined(separator: ", "))"
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        BenchCommandLine.fail("the nodes did not agree on a leader within \(options.timeout); last: \(lastProblem)")
    }

    private struct Problem: Error {
        let reason: String
    }

    private func view(of response: HTTPClientResponse, from url: String) -> Result<View, Problem> {
        guard response.status == 200 else {
            return .failure(Problem(reason: "status \(response.status) \(String(response.bodyText.prefix(120)))"))
        }
        guard let body = try? JSONValue.parse(response.body) else {
            return .failure(Problem(reason: "answer is not JSON: \(String(response.bodyText.prefix(120)))"))
        }
        switch options.kind {
        case .disco:
            guard let id = body["id"]?.stringValue, let api = body["api_addr"]?.stringValue,
                  let leaderURL = try? BenchCommandLine.normalizedURL(api) else {
                return .failure(Problem(reason: "expected {\"id\",\"api_addr\",\"addr\"}, got \(String(response.bodyText.prefix(120)))"))
            }
            return .success(View(leaderID: id, leaderURL: leaderURL))
        case .etcd:
            // The gateway prints 64-bit IDs as strings.
            guard let member = body["header"]?["member_id"]?.stringValue, let leader = body["leader"]?.stringValue,
                  leader != "0" else {
                return .failure(Problem(reason: "no leader in status \(String(response.bodyText.prefix(160)))"))
            }
            return .success(View(leaderID: leader, leaderURL: member == leader ? url : nil))
        case .service:
            return .failure(Problem(reason: "a service has no leader"))
        }
    }
}
