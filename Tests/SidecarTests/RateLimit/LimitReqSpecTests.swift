import DiscoCore
import RateLimitCore
import Sidecar
import Testing

/// The `-limit-req` grammar: what it accepts, and errors that name the parameter and the fix.
@Suite struct LimitReqSpecTests {
    func failure(_ text: String) -> String {
        do {
            let spec = try LimitReqSpec.parse(text)
            return "accepted: \(spec)"
        } catch {
            return error.reason
        }
    }

    // MARK: Accepted

    @Test func theIssuesExample() throws {
        let spec = try LimitReqSpec.parse("rate=10r/s burst=5 nodelay")
        #expect(spec == LimitReqSpec(rate: LimitRate(requests: 10, per: .perSecond), burst: 5, delay: .nodelay))
        #expect(spec.key == .address)
        #expect(spec.status == 503)
        #expect(spec.size == 10 * 1024 * 1024)
        #expect(!spec.dryRun)
    }

    @Test func everyParameter() throws {
        let spec = try LimitReqSpec.parse("  zone=per_app\tkey=app_id rate=600r/m burst=20 delay=10 status=429 size=1m dry-run ")
        #expect(spec == LimitReqSpec(rate: LimitRate(requests: 600, per: .perMinute), burst: 20, delay: .after(10), status: 429,
                                     key: .appID, zoneName: "per_app", size: 1 << 20, dryRun: true))
    }

    @Test(arguments: [
        ("key=addr", RateLimitKeySource.address), ("key=app_id", .appID),
        ("key=header:X-Tenant", .header("x-tenant")), ("key=header:x_api.user", .header("x_api.user")),
    ])
    func keys(token: String, key: RateLimitKeySource) throws {
        #expect(try LimitReqSpec.parse("rate=1r/s \(token)").key == key)
    }

    @Test(arguments: [("size=32k", 32768), ("size=32K", 32768), ("size=32768", 32768), ("size=10M", 10 << 20), ("size=65536m", 65536 << 20)])
    func sizes(token: String, bytes: Int) throws {
        #expect(try LimitReqSpec.parse("rate=1r/s \(token)").size == bytes)
    }

    @Test(arguments: ["rate=10r/s burst=5 nodelay", "rate=30r/m", "rate=1r/s burst=3 delay=2 status=429 key=header:x-user zone=z size=32768 dry-run"])
    func flagTextParsesBackToTheSameSpec(text: String) throws {
        let spec = try LimitReqSpec.parse(text)
        #expect(try LimitReqSpec.parse(spec.flagText) == spec)
    }

    // MARK: Refused

    @Test(arguments: [
        ("rate=10r/h", "rate=10r/h: unit must be r/s or r/m"),
        ("rate=10", "rate=10: add the unit, r/s or r/m (e.g. 10r/s)"),
        ("rate=0r/s", "rate=0r/s: the number of requests must be a whole number from 1 to 1000000000; for less than one request a second use r/m (e.g. 30r/m)"),
        ("rate=0.5r/s", "rate=0.5r/s: the number of requests must be a whole number from 1"),
        ("rate=-1r/s", "rate=-1r/s: the number of requests must be a whole number"),
        ("rate=fast", "rate=fast: expected requests per second or per minute, e.g. 10r/s or 30r/m"),
        ("burst=5", "rate= is required, e.g. 'rate=10r/s'"),
        ("rate=1r/s burst=0", "burst=0: burst must be a whole number from 1 to 1000000000 (leave it out for no burst)"),
        ("rate=1r/s burst=x", "burst=x: burst must be a whole number"),
        ("rate=1r/s delay=0", "delay=0: delay must be a whole number from 1 to 1000000000 (nodelay forwards the whole burst at once)"),
        ("rate=1r/s burst=5 nodelay delay=2", "delay=2: cannot be combined with nodelay"),
        ("rate=1r/s status=200", "status=200: the status must be from 400 to 599, e.g. 429 or 503"),
        ("rate=1r/s key=ip", "key=ip: expected addr (the client address), app_id (the API key's app_id) or header:NAME"),
        ("rate=1r/s key=header:", "key=header:: the header name must be an HTTP field name such as header:x-api-user"),
        ("rate=1r/s key=header:a b", "unknown parameter \"b\""),
        ("rate=1r/s zone=", "zone=: a zone name is 1 to 64 letters, digits, '_', '-' or '.', e.g. per_client"),
        ("rate=1r/s zone=a/b", "zone=a/b: a zone name is 1 to 64 letters"),
        ("rate=1r/s size=16k", "size=16k: expected a zone size from 32k to 65536m: bytes, or a whole number with k or m, e.g. 10m (nginx's smallest zone is 32k, 8 pages)"),
        ("rate=1r/s size=1g", "size=1g: expected a zone size from 32k to 65536m"),
        ("rate=1r/s size=99999999999999999m", "size=99999999999999999m: expected a zone size"),
        ("rate=1r/s rate=2r/s", "rate=2r/s: rate= is given twice (also rate=1r/s); give each parameter once"),
        ("rate=1r/s brust=5", "unknown parameter \"brust=5\"; did you mean burst=? Valid parameters: rate=, burst=, nodelay, delay=, status=, key=, zone=, size=, dry-run"),
        ("rate=1r/s dry_run", "unknown parameter \"dry_run\"; did you mean dry-run?"),
        ("rate=1r/s nodelay=true", "unknown parameter \"nodelay=true\"; did you mean nodelay?"),
        ("", "expected limit parameters such as 'rate=10r/s burst=5 nodelay'"),
        (" \t ", "expected limit parameters such as 'rate=10r/s burst=5 nodelay'"),
    ])
    func refusesNamingTheTokenAndTheFix(text: String, message: String) {
        let reason = failure(text)
        #expect(reason.hasPrefix(message), "\(text.debugDescription) → \(reason)")
    }
}
