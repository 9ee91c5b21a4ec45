import Foundation
import RateLimitCore

// MARK: - NginxLimitReqSystem

/// nginx as the reference system: the scenario's zones become `limit_req_zone` directives, its
/// policy the `limit_req` directives of `location /` (with `limit_req_status` and
/// `limit_req_dry_run`), which answers with `stub_status` (a content handler, so the limits run
/// before it) and reports each decision in an `X-Limit-Req-Status` header. The access log
/// tells when nginx saw each request.
public struct NginxLimitReqSystem: RateLimitSystemUnderTest {
    public var name: String { "nginx" }

    public init() {}

    public func run(_ scenario: RateLimitScenario) async throws -> [RateLimitObservation] {
        let nginx = try await NginxFixture.start(
            http: Self.zoneDirectives(scenario), server: Self.location(scenario),
            accessLogFormat: "$http_x_seq $msec $request_time $limit_req_status")
        do {
            let requests = scenario.requests.enumerated().map { index, request in
                TimedRequestClient.Request(offset: request.offset, source: request.client, bytes: Self.requestBytes(request, sequence: index))
            }
            let responses = try await TimedRequestClient.run(requests, port: nginx.port)
            let arrivals = Self.arrivals(nginx.accessLog)
            await nginx.stop()
            return responses.enumerated().map { index, response in
                RateLimitObservation(
                    sentAt: response.sentAt, lateness: response.sentAt - response.scheduledAt,
                    status: response.status, latency: response.latency,
                    reportedStatus: response.error == nil ? (response.headers["x-limit-req-status"] ?? "") : nil,
                    arrivalDelay: arrivals[index].map { $0 - response.sentAtWall / 1000 }, error: response.error)
            }
        } catch {
            await nginx.stop()
            throw error
        }
    }

    // MARK: Configuration

    /// `limit_req_zone` for each zone; keys as nginx variables.
    static func zoneDirectives(_ scenario: RateLimitScenario) -> String {
        scenario.zones.map { zone in
            "limit_req_zone \(variable(zone.key)) zone=\(zone.name):\(zone.size) rate=\(zone.rate);"
        }.joined(separator: "\n    ")
    }

    static func variable(_ key: RateLimitKeySource) -> String {
        switch key {
        case .address: "$binary_remote_addr"
        case .appID: "$http_app_id"
        case .header(let name): "$http_" + name.replacingOccurrences(of: "-", with: "_")
        }
    }

    static func location(_ scenario: RateLimitScenario) -> String {
        let statuses = Set(scenario.policy.limits.map(\.status))
        precondition(statuses.count <= 1, "nginx has one limit_req_status per location; the scenario's limits differ")
        var lines = scenario.policy.limits.map { limit in
            var line = "limit_req zone=\(scenario.zones[limit.zone].name)"
            if limit.burst > 0 { line += " burst=\(limit.burst)" }
            if limit.delay != .paced { line += " \(limit.delay)" }
            return line + ";"
        }
        lines.append("limit_req_status \(statuses.first ?? LimitReq.defaultStatus);")
        if scenario.policy.dryRun { lines.append("limit_req_dry_run on;") }
        lines.append("add_header X-Limit-Req-Status $limit_req_status always;")
        lines.append("stub_status;")
        return "location / {\n        " + lines.joined(separator: "\n        ") + "\n    }"
    }

    static func requestBytes(_ request: RateLimitScenario.Request, sequence: Int) -> [UInt8] {
        var text = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Seq: \(sequence)\r\n"
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
        return Array((text + "Connection: close\r\n\r\n").utf8)
    }

    /// When nginx saw each request (wall-clock ms: log time minus request time), by sequence number.
    static func arrivals(_ log: [String]) -> [Int: Int64] {
        var arrivals: [Int: Int64] = [:]
        for line in log {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, let sequence = Int(fields[0]),
                  let logged = milliseconds(fields[1]), let elapsed = milliseconds(fields[2]) else { continue }
            arrivals[sequence] = logged - elapsed
        }
        return arrivals
    }

    /// `1733333333.123` → 1733333333123.
    static func milliseconds(_ text: Substring) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].count == 3, let seconds = Int64(parts[0]), let fraction = Int64(parts[1]) else { return nil }
        return seconds * 1000 + fraction
    }
}
