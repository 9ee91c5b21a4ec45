import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import RateLimitCore
import Testing

// MARK: - The rate-limit differential, through the sidecar process

/// The sidecar as a system under test: a `disco-sidecar` process whose `-proxy-config` holds
/// the scenario's zones and limits in nginx's directive names, in front of an upstream that
/// answers 200 at once. The same traces and the same judge as nginx's run.
struct SidecarLimitReqSystem: RateLimitSystemUnderTest {
    var name: String { "disco-sidecar" }

    static func proxyConfig(_ scenario: RateLimitScenario) -> String {
        var object = JSONObject()
        object.append(key: "limit_req_zone", value: .array(scenario.zones.map { zone in
            var entry = JSONObject()
            entry.append(key: "name", value: .string(zone.name))
            entry.append(key: "key", value: .string(zone.key.description))
            entry.append(key: "rate", value: .string(zone.rate.description))
            entry.append(key: "size", value: .number(JSONNumber(Int64(zone.size))))
            return .object(entry)
        }))
        object.append(key: "limit_req", value: .array(scenario.policy.limits.map { limit in
            var entry = JSONObject()
            entry.append(key: "zone", value: .string(scenario.zones[limit.zone].name))
            if limit.burst > 0 { entry.append(key: "burst", value: .number(JSONNumber(Int64(limit.burst)))) }
            switch limit.delay {
            case .paced: break
            case .nodelay: entry.append(key: "nodelay", value: .bool(true))
            case .after(let count): entry.append(key: "delay", value: .number(JSONNumber(Int64(count))))
            }
            return .object(entry)
        }))
        object.append(key: "limit_req_status", value: .number(JSONNumber(Int64(scenario.policy.limits.first?.status ?? LimitReq.defaultStatus))))
        object.append(key: "limit_req_dry_run", value: .bool(scenario.policy.dryRun))
        return JSONValue.object(object).encoded()
    }

    func run(_ scenario: RateLimitScenario) async throws -> [RateLimitObservation] {
        let upstream = try await HTTPServer.start { _ in .text("ok") }
        let cluster = try DiscodCluster(name: "sidecar-limit-req")
        let proxyPort = try FreePort.loopback()
        let node = try startSidecar(cluster, id: "n1", ports: try DiscodCluster.ports(), flags: [
            "-proxy-addr", "0.0.0.0:\(proxyPort)", "-upstream", "http://\(upstream.localAddress)", "-upstream-health-interval", "0s",
            "-proxy-config", Self.proxyConfig(scenario), "-log-level", "warning",
        ])
        do {
            try await waitForProxy(port: proxyPort, process: node)
            let requests = scenario.requests.enumerated().map { index, request in
                TimedRequestClient.Request(offset: request.offset, source: request.client,
                                           bytes: NginxLimitReqSystemBytes.request(request, sequence: index))
            }
            let responses = try await TimedRequestClient.run(requests, port: proxyPort)
            await cluster.shutdown()
            await upstream.shutdown(gracePeriod: .seconds(1))
            return responses.map { response in
                RateLimitObservation(sentAt: response.sentAt, lateness: response.sentAt - response.scheduledAt, status: response.status,
                                     latency: response.latency, error: response.error)
            }
        } catch {
            await cluster.shutdown()
            await upstream.shutdown(gracePeriod: .seconds(1))
            throw error
        }
    }
}

/// The request bytes nginx's run sends, header for header.
enum NginxLimitReqSystemBytes {
    static func request(_ request: RateLimitScenario.Request, sequence: Int) -> [UInt8] {
        var text = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Seq: \(sequence)\r\n"
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
        return Array((text + "Connection: close\r\n\r\n").utf8)
    }
}

/// Every catalog trace nginx is tested with, through the sidecar: the same passed, delayed
/// (within −10…+150 ms of the core's delay) or rejected answer for every request.
@Suite("disco-sidecar: rate limiting decides as nginx does", .serialized)
struct SidecarDifferentialTests {
    @Test(arguments: RateLimitScenario.catalog.map(\.scenario.name))
    func theSidecarDecidesLikeNginx(name: String) async throws {
        let entry = try #require(RateLimitScenario.catalog.first { $0.scenario.name == name })
        let comparison = try await RateLimitDifferential.run(entry.scenario, on: SidecarLimitReqSystem())
        if ProcessInfo.processInfo.environment["DISCO_DIFFERENTIAL_VERBOSE"] != nil { print("\(name):\n\(comparison.table)") }
        #expect(comparison.inconclusive == nil, "\(comparison.inconclusive ?? "")\n\(comparison.table)")
        #expect(comparison.mismatches.isEmpty, "\(comparison.mismatches.count) mismatches:\n\(comparison.table)")
    }
}
