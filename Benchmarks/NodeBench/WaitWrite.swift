import DiscoCore
import DiscoSystem
import DiscoNet
import Synchronization

// MARK: - Options

struct WaitWriteOptions {
    var urls: [String]
    var kind: TargetKind
    /// Epoch seconds the elapsed time is measured from (the script's spawn or kill moment).
    var since: Double
    var timeout: Duration
    /// Time between attempts on one URL. Attempts run on a fixed schedule, each from its own
    /// worker, so a request stuck on a leaderless node or a dead leader does not delay the next
    /// one: the measurement's resolution is `interval` whatever the nodes do.
    var interval: Duration
    /// Workers per URL; together they keep up with the schedule while up to this many attempts
    /// hang (their number times `interval` should be at least `requestTimeout`).
    var workersPerURL: Int
    var requestTimeout: Duration

    static func parse(_ arguments: [String]) -> WaitWriteOptions {
        var set = FlagSet(programName: "disco-bench-node wait-write",
                          synopsis: "Usage: disco-bench-node wait-write -urls URL,... -kind disco|etcd [flags]")
        let urls = BenchCommandLine.urlsFlag(&set)
        let kind = BenchCommandLine.kindFlag(&set)
        let since = set.string("since", usage: "epoch seconds to measure from, such as $EPOCHREALTIME (default: now)",
                               typeName: "seconds")
        let timeout = set.duration("timeout", default: .seconds(30), usage: "give up after this long")
        let interval = set.duration("interval", default: .milliseconds(20), usage: "time between attempts on one URL")
        let workers = set.int("workers", default: 25, usage: "concurrent writers per URL")
        let requestTimeout = set.duration("request-timeout", default: .milliseconds(500), usage: "bound on one write")
        let parsed = BenchCommandLine.parse(set, arguments)
        guard !parsed[urls].isEmpty else { BenchCommandLine.usageError("-urls is required") }
        var start = WallClock.now()
        if !parsed[since].isEmpty {
            guard let value = Double(parsed[since]), value > 0 else {
                BenchCommandLine.usageError("invalid value \(parsed[since].debugDescription) for -since: expected epoch seconds such as 1700000000.25")
            }
            start = value
        }
        guard parsed[workers] >= 1, parsed[workers] <= 256 else { BenchCommandLine.usageError("-workers must be 1...256") }
        guard parsed[timeout] > .zero, parsed[requestTimeout] > .zero, parsed[interval] > .zero else {
            BenchCommandLine.usageError("-timeout, -interval and -request-timeout must be positive")
        }
        return WaitWriteOptions(urls: parsed[urls], kind: BenchCommandLine.required(parsed[kind], "kind"), since: start,
                                timeout: parsed[timeout], interval: parsed[interval], workersPerURL: parsed[workers],
                                requestTimeout: parsed[requestTimeout])
    }
}

// MARK: - First accepted write

/// Writes to every URL on a fixed schedule (one attempt per URL every `interval`, spread over
/// `workersPerURL` workers) until one write is accepted, and reports how long after `since` its
/// answer arrived.
struct WaitWrite {
    let options: WaitWriteOptions

    private struct Accepted: Sendable {
        let url: String
        let at: Double
    }

    func run() async {
        let client = HTTPClient(configuration: HTTPClientConfiguration(
            connectTimeout: options.requestTimeout, requestTimeout: options.requestTimeout,
            maxConnectionsPerHost: options.workersPerURL))
        let log = AttemptLog()
        let options = self.options
        let clock = ContinuousClock()
        let schedule = Schedule(start: clock.now, interval: options.interval, workers: options.workersPerURL)
        let winner: Accepted? = await withTaskGroup(of: Accepted?.self) { group in
            for (index, url) in options.urls.enumerated() {
                for worker in 0..<options.workersPerURL {
                    let clientNumber = index * options.workersPerURL + worker
                    group.addTask {
                        await Self.writeUntilAccepted(url: url, client: client, clientNumber: clientNumber, worker: worker,
                                                      schedule: schedule, options: options, log: log)
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: options.timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let winner else {
            BenchCommandLine.fail("no write accepted within \(options.timeout) by any of \(options.urls.joined(separator: ", ")) "
                                  + "(\(log.total) attempts); last answers: \(log.summary(options.urls))")
        }
        let elapsed = winner.at - options.since
        CommandLineTool.writeStandardOutput("accepted url=\(winner.url) elapsed=\(elapsed.fixed(4)) attempts=\(log.total)\n")
    }

    private static func writeUntilAccepted(
        url: String, client: HTTPClient, clientNumber: Int, worker: Int, schedule: Schedule, options: WaitWriteOptions,
        log: AttemptLog
    ) async -> Accepted? {
        let clock = ContinuousClock()
        var sequence = 0
        while !Task.isCancelled {
            do {
                try await Task.sleep(until: schedule.nextSlot(worker: worker, after: clock.now), clock: clock)
            } catch {
                return nil
            }
            sequence += 1
            let request = options.kind.writeRequest(
                base: url, client: clientNumber, payload: TargetKind.payload(client: clientNumber, sequence: sequence))
            do {
                let response = try await client.send(request, timeout: options.requestTimeout)
                let at = WallClock.now()
                if options.kind.accepted(response) {
                    log.record(url, "200")
                    return Accepted(url: url, at: at)
                }
                log.record(url, "\(response.status) \(String(response.bodyText.prefix(120)))")
            } catch {
                if Task.isCancelled { return nil }  // the run is over; keep the last real answer
                log.record(url, "\(error)")
            }
        }
        return nil
    }
}

// MARK: - Schedule

/// Attempt times for one URL: worker `k` owns the slots `start + (k + n * workers) * interval`,
/// so the workers together attempt once per `interval`.
struct Schedule: Sendable {
    let start: ContinuousClock.Instant
    let interval: Duration
    let workers: Int

    /// The worker's first slot at or after `now`.
    func nextSlot(worker: Int, after now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let first = start + interval * worker
        guard now > first else { return first }
        let period = interval * workers
        let behind = (now - first) / period
        return first + period * Int(behind.rounded(.up))
    }
}

// MARK: - Diagnostics

/// The last answer from each URL and the number of attempts, for the failure message.
final class AttemptLog: Sendable {
    private struct State {
        var last: [String: String] = [:]
        var total = 0
    }

    private let state = Mutex(State())

    func record(_ url: String, _ outcome: String) {
        state.withLock {
            $0.last[url] = outcome
            $0.total += 1
        }
    }

    var total: Int { state.withLock { $0.total } }

    func summary(_ urls: [String]) -> String {
        state.withLock { state in
            urls.map { "\($0) -> \(state.last[$0] ?? "no answer")" }.joined(separator: "; ")
        }
    }
}
