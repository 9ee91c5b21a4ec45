import Foundation
import RateLimitCore

// MARK: - RateLimitBenchmark

/// `disco-sim ratelimit --bench`: decisions per second of the rate-limit core with one zone
/// holding `keys` clients, against the same core when the request has no key, so no zone is
/// consulted (the cost of the call, the key and the policy alone), and the memory a state takes
/// at that many keys.
///
/// Rates are per CPU second of the deciding thread. Each decision builds the client's 4-byte key (as the proxy will from the client address),
/// picks clients in a pseudo-random order and advances the clock by 1 ms every 64 decisions.
/// Prints the figures and, last, `ratelimit: ours=<decisions per CPU second with the zone, all keys>
/// anchor=<decisions per CPU second with no zone consulted> ratio=<ours/anchor>`.
public enum RateLimitBenchmark {
    public static func run(keys: Int, decisions: Int) -> Int32 {
        let rate = LimitRate(requests: 100, per: .perSecond)
        // A zone just large enough for every key: 128 bytes a state, plus nginx's page descriptors.
        let size = LimitReqZone.minimumSize + keys * 132
        let zone = LimitReqZone(name: "bench", rate: rate, size: size)
        let limited = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 10, delay: .nodelay)])

        let residentBefore = residentBytes()
        var limiter = RateLimiter(zones: [zone])
        var now: Int64 = 1_000_000
        for client in 0..<keys { _ = limiter.decide(limited, keys: [key(client)], now: now) }
        let residentAfter = residentBytes()
        guard limiter.stateCount(zone: 0) == keys else {
            print("ratelimit bench: the zone kept \(limiter.stateCount(zone: 0)) of \(keys) keys")
            return 1
        }
        let allocated = limiter.allocatedBytes(zone: 0)
        print("ratelimit: \(keys) keys in a \(size / (1 << 20))m zone: \(allocated / keys) bytes per key in the table"
            + " (\(Int(residentAfter - residentBefore) / keys) bytes per key of resident memory; nginx: 128)")

        var best = (ours: 0.0, hot: 0.0, anchor: 0.0)
        var forwarded = 0
        for _ in 0..<3 {
            let ours = measure(decisions: decisions, keys: keys, now: &now) { key, now in
                if limiter.decide(limited, keys: [key], now: now).action == .forward { forwarded += 1 }
            }
            // The same zone, requests from 1,000 of its clients (their states stay in the caches).
            let hot = measure(decisions: decisions, keys: min(keys, 1000), now: &now) { key, now in
                if limiter.decide(limited, keys: [key], now: now).action == .forward { forwarded += 1 }
            }
            // No zone consulted: the request carries no key (nginx's empty key), the rest is the same.
            let anchor = measure(decisions: decisions, keys: keys, now: &now) { key, now in
                if limiter.decide(limited, keys: [.empty], now: now).outcome == .unlimited { forwarded += key.bytes.count >> 2 }
            }
            best = (max(best.ours, ours), max(best.hot, hot), max(best.anchor, anchor))
        }
        print("ratelimit: \(Int(best.ours)) decisions per CPU second over all \(keys) clients uniformly, \(Int(best.hot)) over 1,000 of them;"
            + " \(Int(best.anchor)) with no zone consulted (best of 3 runs of \(decisions) decisions each, \(forwarded) forwarded)")
        let ratio = best.anchor > 0 ? best.ours / best.anchor : 0
        print("ratelimit: ours=\(Int(best.ours)) anchor=\(Int(best.anchor)) ratio=\(String(format: "%.2f", ratio))")
        return 0
    }

    /// Decisions per CPU second of this thread (steadier than wall time on a shared machine)
    /// of `decide` over `decisions` pseudo-random clients.
    static func measure(decisions: Int, keys: Int, now: inout Int64, _ decide: (RateLimitKey, Int64) -> Void) -> Double {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let start = threadCPUSeconds()
        for index in 0..<decisions {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            if index & 63 == 0 { now += 1 }
            decide(key(Int(state % UInt64(keys))), now)
        }
        return Double(decisions) / (threadCPUSeconds() - start)
    }

    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func key(_ client: Int) -> RateLimitKey {
        RateLimitKey([10, UInt8(truncatingIfNeeded: client >> 16), UInt8(truncatingIfNeeded: client >> 8), UInt8(truncatingIfNeeded: client)])
    }

    /// Resident set size of this process (`/proc/self/statm`), in bytes.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
