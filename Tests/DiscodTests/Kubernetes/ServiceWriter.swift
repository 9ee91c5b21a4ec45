import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization

// MARK: - ServiceWriter

/// A client that writes numbered events through a Service, the way an application in the
/// cluster would: each write goes to one of the Service's ready endpoints (round robin); a write
/// that fails is retried once, at the leader a ready endpoint names, with the same
/// `Idempotency-Key`. Everything is recorded so a test can check that no acknowledged write was
/// lost and that every retried write succeeded.
final class ServiceWriter: Sendable {
    struct Failure: Sendable, CustomStringConvertible {
        let number: Int
        let first: String
        let second: String
        var description: String { "write \(number): first attempt \(first); then \(second)" }
    }

    struct Record: Sendable {
        var acknowledged: [Int] = []
        var retried: Set<Int> = []
        var failed: [Failure] = []
        /// Retries that failed for another reason than a leadership handover the node reported
        /// (the write's outcome unknown because its leader stepped down, or no leader yet):
        /// a client's one retry to the leader should succeed unless the cluster says it moved.
        var unexplainedRetryFailures: [String] = []
    }

    let harness: KubeHarness
    let service: String
    /// Tells this writer's events apart from anything else in the log.
    let run = UUID().uuidString.prefix(8).lowercased()
    private let state = Mutex(Record())
    private let stopped = Atomic<Bool>(false)
    /// Connects within 5 s: a lost SYN is sent again only after 1 s, and a write that failed to
    /// connect would count as a retry the cluster did not explain. A write may take 30 s (see
    /// ``post(_:to:)``).
    private let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(5), requestTimeout: .seconds(30)))

    init(harness: KubeHarness, service: String = "disco") {
        self.harness = harness
        self.service = service
    }

    var record: Record { state.withLock { $0 } }

    /// Writes until ``stop()``; the caller owns the task this runs in and awaits it.
    func writeUntilStopped() async {
        var number = 0
        while !stopped.load(ordering: .relaxed) {
            number += 1
            await write(number)
        }
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    private func write(_ number: Int) async {
        let endpoints = (try? harness.endpoints(of: service)) ?? []
        let first: String
        if endpoints.isEmpty {
            first = "no ready endpoint"
        } else {
            switch await post(number, to: endpoints[number % endpoints.count]) {
            case .success:
                state.withLock { $0.acknowledged.append(number) }
                return
            case .failure(let reason):
                first = reason
            }
        }
        state.withLock { _ = $0.retried.insert(number) }
        // Retries (with the same idempotency key) go to the leader a ready endpoint names; a
        // leader that steps down before the write commits answers "outcome unknown", which a
        // client retries too, so a few handovers in a row cost a few retries.
        var last = ""
        for _ in 1...Self.retries {
            guard let target = await readyEndpoint() else {
                state.withLock { $0.failed.append(Failure(number: number, first: first, second: "no ready endpoint named a ready leader within 60 s")) }
                return
            }
            switch await post(number, to: target) {
            case .success:
                state.withLock { $0.acknowledged.append(number) }
                return
            case .failure(let reason):
                last = reason
                if !Self.isHandover(reason) {
                    state.withLock { $0.unexplainedRetryFailures.append("write \(number): \(reason)") }
                }
            }
        }
        state.withLock { $0.failed.append(Failure(number: number, first: first, second: "\(Self.retries) retries failed, the last: \(last)")) }
    }

    /// Retries of one write before it counts as failed.
    static let retries = 5

    /// Whether a failed answer is a leadership handover the node reported.
    static func isHandover(_ reason: String) -> Bool {
        reason.contains("the outcome is unknown") || reason.contains("no leader yet") || reason.contains("stopped leading")
    }

    /// Where the retry goes: the leader, as a ready endpoint reports it, once the leader is itself
    /// one of the Service's ready endpoints (so not a pod that is shutting down). This is what a
    /// client following the cluster's leader hint does; it waits out a leadership handover instead
    /// of spending its retries inside it.
    private func readyEndpoint() async -> String? {
        var found: String?
        try? await waitUntil("a ready endpoint of \(service) to name a ready leader", timeout: .seconds(60), pollEvery: .milliseconds(50)) {
            let endpoints = (try? harness.endpoints(of: service)) ?? []
            for endpoint in endpoints {
                let parts = endpoint.split(separator: ":")
                guard parts.count == 2, let port = UInt16(parts[1]),
                      let answer = await LoopbackProbe.httpGet(host: String(parts[0]), port: port, path: "/leader", timeout: .seconds(1)),
                      answer.status == 200, let leader = try? JSONValue.parse(answer.body)["api_addr"]?.stringValue
                else { continue }
                let address = leader.hasPrefix("http://") ? String(leader.dropFirst("http://".count)) : leader
                if endpoints.contains(address) {
                    found = address
                    return true
                }
            }
            return false
        }
        return found
    }

    private enum Outcome {
        case success
        case failure(String)
    }

    private func post(_ number: Int, to endpoint: String) async -> Outcome {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Idempotency-Key", value: "\(run)-\(number)")
        let body = #"{"writer":"\#(run)","n":\#(number)}"#
        let request = HTTPClientRequest(method: "POST", url: "http://\(endpoint)/events", headers: headers, body: Array(body.utf8))
        // 30 s: a retry that times out counts as unexplained, and a loaded machine can hold one
        // commit for longer than 10 s. (The key makes a write sent again safe either way.)
        do {
            let answer = try await client.send(request, timeout: .seconds(30))
            guard answer.status == 200 else {
                return .failure("\(endpoint) answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
            }
            return .success
        } catch {
            return .failure("\(endpoint): \(error)")
        }
    }

    // MARK: Reading back

    /// This writer's numbers in the order `pod`'s event log holds them, once it holds every
    /// acknowledged one or `timeout` passed (then what it holds, for the caller to find what is
    /// missing). `pod` reads its own applied log: after the cluster re-formed, a follower learns
    /// that the last entries were committed from the new leader's next append, so a first read can
    /// come before it applied them; a write truly lost never appears.
    func numbersInLog(from pod: HarnessPod, timeout: Duration = .seconds(60)) async throws -> [Int] {
        let acknowledged = Set(record.acknowledged)
        var numbers: [Int] = []
        try? await waitUntil("\(pod.name) to have applied every acknowledged write", timeout: timeout, pollEvery: .milliseconds(200)) {
            // A read that fails is a miss to retry: thrown out of the poll, it would end the wait
            // early (the `try?`) and hand back an older, shorter read as if writes were lost.
            guard let now = try? await self.numbersInLogNow(from: pod) else { return false }
            numbers = now
            return acknowledged.isSubset(of: numbers)
        }
        return numbers.isEmpty ? try await numbersInLogNow(from: pod) : numbers
    }

    /// This writer's numbers in the order `pod`'s event log holds them now.
    private func numbersInLogNow(from pod: HarnessPod) async throws -> [Int] {
        var numbers: [Int] = []
        var since: UInt64 = 0
        while true {
            guard let page = await DiscoPods.get(pod, "/events?since=\(since)&limit=1000"),
                  let events = page["events"]?.arrayValue, let last = page["last_seq"]?.numberValue?.uint64Value
            else { throw ManifestError("GET /events?since=\(since) on \(pod.name) did not answer 200 with events") }
            for event in events where event["data"]?["writer"]?.stringValue == String(run) {
                if let number = event["data"]?["n"]?.numberValue?.intValue { numbers.append(number) }
            }
            guard let highest = events.last?["seq"]?.numberValue?.uint64Value, highest < last else { return numbers }
            since = highest
        }
    }
}
