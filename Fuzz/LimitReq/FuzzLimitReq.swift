// libFuzzer entry point for the rate-limit configuration and the core behind it.
//
// The input, split on NUL, is a list of -limit-req flag values; the whole input is also read as
// the JSON rate-limit configuration. Parsing must never crash and every error must have text;
// an accepted flag must print (flagText) as a value that parses back to the same spec. Whatever
// configuration is accepted then decides a short trace made from the input's bytes (time steps
// and keys), and no zone may ever hold more bytes of states than its budget.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLimitReq(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    // Flags.
    var specs: [LimitReqSpec] = []
    for part in bytes.split(separator: 0, omittingEmptySubsequences: false) {
        let text = String(decoding: part, as: UTF8.self)
        do {
            let spec = try LimitReqSpec.parse(text)
            guard let again = try? LimitReqSpec.parse(spec.flagText), again == spec else {
                fatalError("flag text \(spec.flagText.debugDescription) does not parse back to \(spec)")
            }
            specs.append(spec)
        } catch {
            precondition(!error.reason.isEmpty, "empty -limit-req error")
        }
    }
    if let configuration = try? RateLimitConfiguration(flags: specs) { exercise(configuration, bytes) }

    // JSON.
    if let json = try? JSONValue.parse(bytes, maxDepth: 32) {
        do {
            exercise(try RateLimitConfiguration(json: json), bytes)
        } catch {
            precondition(!error.message.isEmpty, "empty rate-limit config error")
        }
    }
    return 0
}

/// Decides up to 64 requests whose time steps and keys come from `bytes`.
func exercise(_ configuration: RateLimitConfiguration, _ bytes: [UInt8]) {
    for limit in configuration.policy.limits {
        precondition(configuration.zones.indices.contains(limit.zone), "a limit names a missing zone")
    }
    var limiter = configuration.makeLimiter()
    var now: Int64 = 1_000_000
    for (step, byte) in bytes.prefix(64).enumerated() {
        now += Int64(byte) * Int64(byte) * 4 - 2000  // also steps back in time
        let keys = configuration.policy.limits.indices.map { index -> RateLimitKey in
            let length = Int(byte >> 5) * (index + 1)
            return RateLimitKey(Array(bytes.dropFirst(step).prefix(length)))
        }
        let decision = limiter.decide(configuration.policy, keys: keys, now: now)
        if case .delayed(let milliseconds) = decision.outcome { precondition(milliseconds > 0, "delayed by \(milliseconds) ms") }
        for zone in configuration.zones.indices {
            precondition(limiter.usedBytes(zone: zone) <= configuration.zones[zone].budget.bytes, "zone \(zone) over its budget")
        }
    }
}
