// libFuzzer entry point for what sidecars accept from each other: the hop proof header
// (Disco-Sidecar-Proof) and the body of shared rate-limit counts.
//
// The input is read as a proof header and as a counts body. Parsing must never crash and every
// error must have text; an accepted proof must print (headerValue) as a value that parses back
// to the same proof; accepted counts name only the zones offered, with positive requests, and
// a limiter absorbs them within its zones' budgets. The replay guard is driven with nonces and
// times from the input and must never accept a nonce twice while it is fresh.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHopProof(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)

    switch HopProof.parse(text) {
    case .success(let proof):
        guard case .success(let again) = HopProof.parse(proof.headerValue), again == proof else {
            fatalError("header \(proof.headerValue.debugDescription) does not parse back to \(proof)")
        }
    case .failure(let error):
        precondition(!error.message.isEmpty, "empty hop proof error")
    }

    let zones = [LimitReqZone(name: "a", rate: LimitRate(requests: 10, per: .perSecond), size: LimitReqZone.minimumSize),
                 LimitReqZone(name: "b", rate: LimitRate(requests: 30, per: .perMinute), size: LimitReqZone.minimumSize)]
    switch SharedCountsMessage.decode(bytes, sharedZones: ["a": 0, "b": 1]) {
    case .success(let decoded):
        var limiter = SharedRateLimiter(zones: zones, sharedZones: [0, 1], exchangeInterval: 100)
        for entry in decoded.counts.entries {
            precondition(entry.zone == 0 || entry.zone == 1, "counts for zone \(entry.zone)")
            precondition(entry.requests > 0, "non-positive requests")
        }
        limiter.receive(decoded.counts, now: 1_000_000)
        for zone in zones.indices {
            precondition(limiter.limiter.usedBytes(zone: zone) <= zones[zone].budget.bytes, "zone \(zone) over its budget")
        }
    case .failure(let error):
        precondition(!error.message.isEmpty, "empty counts error")
    }

    var guardian = HopReplayGuard(skew: 50, capacity: 8)
    var accepted: [[UInt8]: Int64] = [:]
    var now: Int64 = 1000
    for chunk in stride(from: 0, to: min(bytes.count, 256), by: 2) {
        let nonce = [bytes[chunk] & 0x0F]
        let timestamp = now + Int64(bytes[min(chunk + 1, bytes.count - 1)]) - 128
        if guardian.admit(nonce: nonce, timestamp: timestamp, now: now) == .accepted {
            if let earlier = accepted[nonce] { precondition(now - earlier > 50, "nonce \(nonce) accepted twice while fresh") }
            accepted[nonce] = timestamp
        }
        precondition(guardian.remembered <= 8, "more nonces remembered than the capacity")
        now += Int64(bytes[chunk] >> 4)
    }
    return 0
}
