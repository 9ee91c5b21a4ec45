import RateLimitCore
import Sidecar
import Testing

/// The hop proof's header syntax, the bytes its MAC covers, and the replay guard.
@Suite struct HopProofSyntaxTests {
    let proof = HopProof(node: "n1", timestamp: 1_764_900_000_123, nonce: Array(0..<16), mac: Array(repeating: 0xAB, count: 32))

    @Test func theHeaderParsesBackToTheSameProof() throws {
        let parsed = try HopProof.parse(proof.headerValue).get()
        #expect(parsed == proof)
        #expect(proof.headerValue.hasPrefix("v2 node=n1 ts=1764900000123 nonce=000102030405060708090a0b0c0d0e0f mac=abab"))
    }

    @Test func badHeadersAreRefusedNamingTheField() {
        let cases: [(String, String)] = [
            ("", "version v2"),
            ("v3 node=n1", "version v2"),
            ("v2 node=n1 ts=1 nonce=\(String(repeating: "0", count: 32)) mac=\(String(repeating: "0", count: 64)) extra=1", "unknown hop proof field"),
            ("v2 node= ts=1", "node=ID"),
            ("v2 node=n1 ts=-5", "ts=MILLISECONDS"),
            ("v2 node=n1 ts=1 nonce=0011", "nonce="),
            ("v2 node=n1 ts=1 nonce=\(String(repeating: "0", count: 32)) mac=xyz", "mac="),
            ("v2 node=n1 node=n2", "given twice"),
            ("v2 junk", "NAME=VALUE"),
        ]
        for (text, message) in cases {
            guard case .failure(let error) = HopProof.parse(text) else {
                Issue.record("\(text.debugDescription) was accepted")
                continue
            }
            #expect(error.message.contains(message), "\(text.debugDescription): \(error.message)")
        }
    }

    /// Every field is length-prefixed: moving bytes from one field to the next changes them.
    @Test func signedBytesDifferWheneverAFieldDoes() {
        let base = HopProof.signedBytes(method: "POST", target: "/tx", node: "n1", receiver: "b", timestamp: 5, nonce: [1])
        #expect(base != HopProof.signedBytes(method: "POS", target: "T/tx", node: "n1", receiver: "b", timestamp: 5, nonce: [1]))
        #expect(base != HopProof.signedBytes(method: "POST", target: "/tx", node: "n2", receiver: "b", timestamp: 5, nonce: [1]))
        #expect(base != HopProof.signedBytes(method: "POST", target: "/tx", node: "n1", receiver: "b", timestamp: 6, nonce: [1]))
        #expect(base != HopProof.signedBytes(method: "POST", target: "/tx", node: "n1", receiver: "b", timestamp: 5, nonce: [1], bodyDigest: [0]))
        #expect(base == HopProof.signedBytes(method: "POST", target: "/tx", node: "n1", receiver: "b", timestamp: 5, nonce: [1]))
    }

    /// The receiver is covered, so a proof made for one sidecar is not one for another; and it
    /// is length-prefixed like the rest, so bytes cannot move between the sender and receiver.
    @Test func signedBytesNameTheReceiver() {
        let forB = HopProof.signedBytes(method: "POST", target: "/tx", node: "a", receiver: "b", timestamp: 5, nonce: [1])
        #expect(forB != HopProof.signedBytes(method: "POST", target: "/tx", node: "a", receiver: "c", timestamp: 5, nonce: [1]))
        #expect(HopProof.signedBytes(method: "POST", target: "/tx", node: "ab", receiver: "c", timestamp: 5, nonce: [1])
            != HopProof.signedBytes(method: "POST", target: "/tx", node: "a", receiver: "bc", timestamp: 5, nonce: [1]))
        #expect(forB.starts(with: Array("disco-sidecar-hop-v2".utf8)), "the MAC's version label changed with the fields")
    }

    /// A proof of the previous version (which did not name its receiver) is refused, saying so.
    @Test func aVersion1ProofIsRefusedAsFromAnOlderSidecar() {
        var old = proof.headerValue
        old.replaceSubrange(old.startIndex..<old.index(old.startIndex, offsetBy: 2), with: "v1")
        guard case .failure(let error) = HopProof.parse(old) else {
            Issue.record("a v1 proof was accepted")
            return
        }
        #expect(error.message.contains("v1"), "\(error.message)")
        #expect(error.message.contains("same version"), "\(error.message)")
    }
}

@Suite struct HopReplayGuardTests {
    @Test func aNonceIsAcceptedOnceAndOnlyWithinTheSkew() {
        var guardian = HopReplayGuard(skew: 1000, capacity: 10)
        #expect(guardian.admit(nonce: [1], timestamp: 10_000, now: 10_500) == .accepted)
        #expect(guardian.admit(nonce: [1], timestamp: 10_000, now: 10_600) == .replayed)
        #expect(guardian.admit(nonce: [2], timestamp: 8_000, now: 10_600) == .expired(ageMilliseconds: 2600))
        #expect(guardian.admit(nonce: [3], timestamp: 12_000, now: 10_600) == .fromTheFuture(aheadMilliseconds: 1400))
        // Once the proof is too old to pass the clock check, its nonce is forgotten: a replay is
        // then refused as expired, never accepted.
        #expect(guardian.admit(nonce: [1], timestamp: 10_000, now: 11_001) == .expired(ageMilliseconds: 1001))
        #expect(guardian.remembered == 0)
    }

    @Test func memoryIsBoundedAndFullRefusesInsteadOfForgetting() {
        var guardian = HopReplayGuard(skew: 1000, capacity: 3)
        for nonce in 0..<3 { #expect(guardian.admit(nonce: [UInt8(nonce)], timestamp: 5000, now: 5000) == .accepted) }
        #expect(guardian.admit(nonce: [9], timestamp: 5000, now: 5000) == .full)
        #expect(guardian.admit(nonce: [0], timestamp: 5000, now: 5500) == .replayed)
        #expect(guardian.admit(nonce: [9], timestamp: 6001, now: 6001) == .accepted, "the old nonces expired")
        #expect(guardian.remembered == 1)
    }
}

@Suite struct SharedCountsMessageTests {
    @Test func countsRoundTripByZoneNameAndSkipZonesNotSharedHere() throws {
        let counts = RateLimitCounts(entries: [
            .init(zone: 0, key: RateLimitKey([127, 0, 0, 1]), requests: 12),
            .init(zone: 1, key: RateLimitKey("app"), requests: 1),
        ])
        let body = SharedCountsMessage.encode(counts, zoneNames: ["per_client", "per_app"])
        let decoded = try SharedCountsMessage.decode(body, sharedZones: ["per_client": 3]).get()
        #expect(decoded.counts.entries == [.init(zone: 3, key: RateLimitKey([127, 0, 0, 1]), requests: 12)])
        #expect(decoded.skipped == 1)
    }

    @Test func countsTooLargeForOneBodyAreSplitIntoBodiesAReceiverReads() throws {
        let entries = (0..<40).map { RateLimitCounts.Entry(zone: 0, key: RateLimitKey(Array(repeating: UInt8($0), count: 100)), requests: 1) }
        let bodies = SharedCountsMessage.encode(RateLimitCounts(entries: entries), zoneNames: ["z"], maximumBytes: 2000)
        #expect(bodies.count > 1 && bodies.allSatisfy { $0.count <= 2000 })
        let decoded = try bodies.flatMap { try SharedCountsMessage.decode($0, sharedZones: ["z": 0]).get().counts.entries }
        #expect(decoded == entries)
        #expect(SharedCountsMessage.encode(RateLimitCounts(), zoneNames: ["z"], maximumBytes: 2000).isEmpty)
    }

    @Test func badBodiesAreRefusedNamingTheEntry() {
        let cases: [(String, String)] = [
            ("[]", "not a JSON object"),
            (#"{"counts": [], "x": 1}"#, "unknown field"),
            (#"{"count": []}"#, "unknown field"),
            (#"{"counts": [{"zone": "z", "key": "0g", "requests": 1}]}"#, "counts[0].key"),
            (#"{"counts": [{"zone": "z", "key": "00", "requests": 0}]}"#, "counts[0].requests"),
            (#"{"counts": [{"zone": "z", "key": "00"}]}"#, "counts[0]"),
        ]
        for (text, message) in cases {
            guard case .failure(let error) = SharedCountsMessage.decode(Array(text.utf8), sharedZones: ["z": 0]) else {
                Issue.record("\(text) was accepted")
                continue
            }
            #expect(error.message.contains(message), "\(text): \(error.message)")
        }
    }
}
