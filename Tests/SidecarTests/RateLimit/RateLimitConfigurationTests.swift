import DiscoCore
import RateLimitCore
import Sidecar
import Testing

/// Combining `-limit-req` flags, the JSON form, and merging the two.
@Suite struct RateLimitConfigurationTests {
    func flags(_ texts: String...) throws -> RateLimitConfiguration {
        try RateLimitConfiguration(flags: texts.map { try LimitReqSpec.parse($0) })
    }

    func json(_ text: String) throws -> RateLimitConfiguration {
        try RateLimitConfiguration(json: JSONValue.parse(Array(text.utf8), maxDepth: 16))
    }

    func jsonFailure(_ text: String) -> String {
        do {
            _ = try json(text)
            return "accepted"
        } catch let error as ConfigError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    // MARK: Flags

    @Test func flagsBecomeZonesNamedByPositionAndOnePolicy() throws {
        let configuration = try flags("rate=10r/s burst=5 nodelay", "key=app_id rate=600r/m burst=20 status=429", "zone=tenants key=header:x-tenant rate=50r/s")
        #expect(configuration.zones.map(\.name) == ["limit_req_1", "limit_req_2", "tenants"])
        #expect(configuration.keySources == [.address, .appID, .header("x-tenant")])
        #expect(configuration.policy == LimitReqPolicy(limits: [
            LimitReq(zone: 0, burst: 5, delay: .nodelay), LimitReq(zone: 1, burst: 20, status: 429), LimitReq(zone: 2),
        ]))
    }

    @Test func flagsMustAgreeOnDryRunAndNotRepeatAZone() {
        #expect(throws: FlagValueError.self) { try flags("rate=1r/s dry-run", "rate=2r/s") }
        #expect((try? flags("rate=1r/s dry-run", "rate=2r/s dry-run"))?.policy.dryRun == true)
        do {
            _ = try flags("rate=1r/s zone=a", "rate=2r/s zone=a")
            Issue.record("accepted a repeated zone")
        } catch let error as FlagValueError {
            #expect(error.reason == "zone=a: two -limit-req flags name the same zone; give each its own zone=NAME")
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: FlagValueError.self) { try flags("rate=1r/s zone=limit_req_2", "rate=2r/s") }
    }

    @Test func theLimiterFromFlagsDecides() throws {
        var limiter = try flags("rate=1r/s burst=1 status=429").makeLimiter()
        let policy = try flags("rate=1r/s burst=1 status=429").policy
        let key = RateLimitKey.ipv4(127, 0, 0, 1)
        let outcomes = (0..<3).map { _ in limiter.decide(policy, keys: [key], now: 0).outcome }
        #expect(outcomes == [.passed, .delayed(milliseconds: 1000), .rejected(status: 429)])
    }

    // MARK: JSON

    @Test func jsonUsesNginxsDirectiveNames() throws {
        let configuration = try json("""
            {"limit_req_zone": [{"name": "per_client", "rate": "10r/s", "size": "1m"},
                                {"name": "per_app", "key": "app_id", "rate": "600r/m", "size": 65536}],
             "limit_req": [{"zone": "per_app", "burst": 50, "delay": 10}, {"zone": "per_client", "burst": 20, "nodelay": true}],
             "limit_req_status": 429, "limit_req_dry_run": true}
            """)
        #expect(configuration.zones == [
            LimitReqZone(name: "per_client", key: .address, rate: LimitRate(requests: 10, per: .perSecond), size: 1 << 20),
            LimitReqZone(name: "per_app", key: .appID, rate: LimitRate(requests: 600, per: .perMinute), size: 65536),
        ])
        #expect(configuration.policy == LimitReqPolicy(limits: [
            LimitReq(zone: 1, burst: 50, delay: .after(10), status: 429), LimitReq(zone: 0, burst: 20, delay: .nodelay, status: 429),
        ], dryRun: true))
    }

    @Test func anEmptyObjectLimitsNothing() throws {
        #expect(try json("{}") == RateLimitConfiguration())
    }

    @Test(arguments: [
        (#"{"limit_reqs": []}"#, #"rate-limit config: unknown field "limit_reqs"; did you mean "limit_req"?"#),
        (#"{"limit_req_zone": {}}"#, #"rate-limit config field "limit_req_zone": expected an array of objects, got an object"#),
        (#"{"limit_req_zone": [{"rate": "1r/s"}]}"#, #"rate-limit config: missing required field "limit_req_zone[0].name""#),
        (#"{"limit_req_zone": [{"name": "a", "rate": "1r/h"}]}"#, #"rate-limit config field "limit_req_zone[0].rate": unit must be r/s or r/m"#),
        (#"{"limit_req_zone": [{"name": "a", "rate": "1r/s", "size": "8k"}]}"#, #"rate-limit config field "limit_req_zone[0].size": expected a zone size from 32k"#),
        (#"{"limit_req_zone": [{"name": "a", "rate": "1r/s", "size": true}]}"#, #"rate-limit config field "limit_req_zone[0].size": expected a size such as "10m" or a number of bytes, got true"#),
        (#"{"limit_req_zone": [{"name": "a", "rate": "1r/s", "key": "cookie"}]}"#, #"rate-limit config field "limit_req_zone[0].key": expected addr"#),
        (#"{"limit_req_zone": [{"name": "a", "rate": "1r/s", "burst": 3}]}"#, #"rate-limit config: unknown field "limit_req_zone[0].burst""#),
        (#"{"limit_req_zone": [{"name": "a", "rate": "1r/s"}, {"name": "a", "rate": "2r/s"}]}"#, #"rate-limit config field "limit_req_zone[1].name": zone "a" is defined twice"#),
        (#"{"limit_req": [{"zone": "a"}]}"#, #"rate-limit config field "limit_req[0].zone": no limit_req_zone is named "a"; define it in limit_req_zone"#),
        (#"{"limit_req_zone": [{"name": "a", "rate": "1r/s"}], "limit_req": [{"zone": "b"}]}"#, #"rate-limit config field "limit_req[0].zone": no limit_req_zone is named "b"; defined zones: "a""#),
        (#"{"limit_req_zone": [{"name": "a", "rate": "1r/s"}], "limit_req": [{"zone": "a"}, {"zone": "a"}]}"#, #"rate-limit config field "limit_req[1].zone": zone "a" is limited twice"#),
        (#"{"limit_req_zone": [{"name": "a", "rate": "1r/s"}], "limit_req": [{"zone": "a", "burst": 0}]}"#, #"rate-limit config field "limit_req[0].burst": expected an integer from 1 to 1000000000, got 0"#),
        (#"{"limit_req_zone": [{"name": "a", "rate": "1r/s"}], "limit_req": [{"zone": "a", "nodelay": true, "delay": 2}]}"#, #"rate-limit config field "limit_req[0].delay": cannot be combined with "nodelay": true"#),
        (#"{"limit_req_status": 302}"#, #"rate-limit config field "limit_req_status": expected an integer from 400 to 599, got 302"#),
        (#"{"limit_req_dry_run": "yes"}"#, #"rate-limit config field "limit_req_dry_run": expected true or false"#),
    ])
    func jsonErrorsNameTheField(text: String, message: String) {
        let reason = jsonFailure(text)
        #expect(reason.hasPrefix(message), "\(text) → \(reason)")
    }

    // MARK: Merging

    @Test func mergingAppendsZonesAndLimits() throws {
        let fromFlags = try flags("rate=10r/s burst=5")
        let fromJSON = try json(#"{"limit_req_zone": [{"name": "per_app", "key": "app_id", "rate": "1r/s"}], "limit_req": [{"zone": "per_app"}]}"#)
        let merged = try fromFlags.merging(fromJSON)
        #expect(merged.zones.map(\.name) == ["limit_req_1", "per_app"])
        #expect(merged.policy.limits == [LimitReq(zone: 0, burst: 5), LimitReq(zone: 1)])
    }

    @Test func mergingRefusesTwoZonesOfOneNameAndDisagreeingDryRun() throws {
        let fromFlags = try flags("rate=10r/s zone=z")
        let sameName = try json(#"{"limit_req_zone": [{"name": "z", "rate": "1r/s"}]}"#)
        #expect(throws: ConfigError.self) { try fromFlags.merging(sameName) }
        let dryRun = try json(#"{"limit_req_zone": [{"name": "y", "rate": "1r/s"}], "limit_req": [{"zone": "y"}], "limit_req_dry_run": true}"#)
        #expect(throws: ConfigError.self) { try fromFlags.merging(dryRun) }
        #expect(try RateLimitConfiguration().merging(dryRun).policy.dryRun)
    }
}

/// Zones shared by the cluster: `shared` in `-limit-req`, `"shared": true` in the JSON form.
@Suite struct SharedZoneConfigurationTests {
    @Test func sharedZonesAreMarkedInFlagsAndJSONAndKeepTheirIndexWhenMerged() throws {
        let spec = try LimitReqSpec.parse("rate=10r/s shared")
        #expect(spec.shared)
        #expect(try LimitReqSpec.parse(spec.flagText) == spec)
        let fromFlags = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("rate=1r/s"), spec])
        #expect(fromFlags.sharedZones == [1])
        let json = try RateLimitConfiguration(json: JSONValue.parse(Array(#"""
            {"limit_req_zone": [{"name": "a", "rate": "5r/s"}, {"name": "b", "rate": "5r/s", "shared": true}],
             "limit_req": [{"zone": "b"}], "limit_req_share_interval": "250ms"}
            """#.utf8), maxDepth: 16))
        #expect(json.sharedZones == [1])
        #expect(json.shareIntervalMilliseconds == 250)
        let merged = try fromFlags.merging(json)
        #expect(merged.sharedZones == [1, 3])
        #expect(merged.sharedZoneNames == ["limit_req_2", "b"])
        #expect(merged.shareIntervalMilliseconds == 250)
        #expect(RateLimitConfiguration().shareIntervalMilliseconds == 100, "the documented default")
    }

    @Test func badSharingIsRefusedNamingTheFix() throws {
        func failure(_ text: String) -> String {
            do {
                _ = try RateLimitConfiguration(json: JSONValue.parse(Array(text.utf8), maxDepth: 16))
                return "accepted"
            } catch let error as ConfigError { return error.message } catch { return "\(error)" }
        }
        #expect(failure(#"{"limit_req_zone": [{"name": "a", "rate": "5r/s", "shared": true}], "limit_req_share_interval": "1ms"}"#)
            .contains("from 10ms to 10s"))
        #expect(failure(#"{"limit_req_zone": [{"name": "a", "rate": "5r/s"}], "limit_req_share_interval": "1s"}"#).contains("no zone is shared"))
        #expect(failure(#"{"limit_req_zone": [{"name": "a", "rate": "5r/s", "shared": "yes"}]}"#).contains("shared"))
        var configuration = ProxyConfiguration()
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("zone=z rate=1r/s shared")])
        do {
            _ = try configuration.validated()
            Issue.record("a shared zone without a hop key was accepted")
        } catch {
            #expect(error.message.contains("-proxy-hop-key"), "\(error.message)")
            #expect(error.message.contains("\"z\""))
        }
        configuration.hopKeyFile = "/key"
        _ = try configuration.validated()
    }

    /// A decision reports what each of the first 64 limits did (the zones' metrics): more are refused.
    @Test func moreLimitsThanADecisionReportsAreRefused() throws {
        var configuration = ProxyConfiguration()
        let specs = { (count: Int) in try (1...count).map { try LimitReqSpec.parse("zone=z\($0) rate=1r/s") } }
        configuration.rateLimit = try RateLimitConfiguration(flags: specs(64))
        _ = try configuration.validated()
        configuration.rateLimit = try RateLimitConfiguration(flags: specs(65))
        do {
            _ = try configuration.validated()
            Issue.record("65 limits were accepted")
        } catch {
            #expect(error.message.contains("65 rate limits") && error.message.contains("at most 64"), "\(error.message)")
        }
    }
}
