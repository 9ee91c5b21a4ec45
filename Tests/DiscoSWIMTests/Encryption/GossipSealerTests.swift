import DiscoCore
import DiscoSWIM
import Testing

// MARK: - Sealing SWIM traffic

@Suite struct GossipSealerTests {
    static let keyA = key(0xA1), keyB = key(0xB2), keyC = key(0xC3)

    static func key(_ fill: UInt8) -> GossipKey {
        GossipKey(bytes: (0..<32).map { fill &+ UInt8($0) })!
    }

    let sealer = SWIM.GossipSealer(keyring: GossipKeyring(primary: keyA), label: "prod")
    let message = SWIM.WireCodec.encode(SWIM.Packet(message: .ping(sequence: 7, source: "a", target: "b")))

    func opened(_ result: Result<SWIM.GossipSealer.Opened, SWIM.OpenFailure>) -> [UInt8]? {
        if case .success(let value) = result { return value.bytes }
        return nil
    }

    func failure(_ result: Result<SWIM.GossipSealer.Opened, SWIM.OpenFailure>) -> SWIM.OpenFailure.Kind? {
        if case .failure(let error) = result { return error.kind }
        return nil
    }

    /// No two messages of a sealer, or of its copies, share a nonce; another sealer under the
    /// same key starts from another random base.
    @Test func noncesNeverRepeat() throws {
        let copy = sealer
        var seen = Set<[UInt8]>()
        for index in 0..<5_000 {
            let sealed = try (index % 2 == 0 ? sealer : copy).seal(message, purpose: .datagram)
            #expect(seen.insert(Array(sealed[1...12])).inserted, "nonce repeated at message \(index)")
            #expect(opened(sealer.open(sealed, purpose: .datagram)) == message)
        }
        let other = SWIM.GossipSealer(keyring: GossipKeyring(primary: Self.keyA), label: "prod")
        for _ in 0..<100 {
            #expect(seen.insert(Array(try other.seal(message, purpose: .datagram)[1...12])).inserted)
        }
    }

    @Test func sealedMessageOpensToThePlaintextAndHidesIt() throws {
        let sealed = try sealer.seal(message, purpose: .datagram)
        #expect(sealed.count == message.count + SWIM.GossipSealer.overhead)
        #expect(sealed.first == SWIM.GossipSealer.version)
        // The plaintext does not appear in the envelope.
        #expect(!sealed.indices.contains { sealed[$0...].starts(with: message) })
        #expect(opened(sealer.open(sealed, purpose: .datagram)) == message)
    }

    @Test func everySealUsesAFreshNonce() throws {
        var nonces: Set<[UInt8]> = []
        for _ in 0..<200 {
            let sealed = try sealer.seal(message, purpose: .datagram)
            nonces.insert(Array(sealed[1..<13]))
        }
        #expect(nonces.count == 200)
    }

    @Test func emptyPlaintextSealsAndOpens() throws {
        let sealed = try sealer.seal([], purpose: .pushPull)
        #expect(sealed.count == SWIM.GossipSealer.overhead)
        #expect(opened(sealer.open(sealed, purpose: .pushPull)) == [])
    }

    @Test func changingAnyByteIsDetected() throws {
        let sealed = try sealer.seal(message, purpose: .datagram)
        for index in sealed.indices {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var altered = sealed
                altered[index] ^= flip
                #expect(opened(sealer.open(altered, purpose: .datagram)) == nil, "byte \(index) ^ \(flip) still opened")
            }
        }
    }

    @Test func everyTruncationOrExtensionIsRejectedWithoutACrash() throws {
        let sealed = try sealer.seal(message, purpose: .datagram)
        for count in 0..<sealed.count {
            let kind = failure(sealer.open(Array(sealed.prefix(count)), purpose: .datagram))
            #expect(kind == (count == 0 || count < SWIM.GossipSealer.overhead ? .truncated : .notAuthentic), "prefix of \(count) bytes")
        }
        #expect(failure(sealer.open(sealed + [0], purpose: .datagram)) == .notAuthentic)
    }

    @Test func wrongKeyWrongLabelAndWrongPurposeDoNotOpen() throws {
        let sealed = try sealer.seal(message, purpose: .datagram)
        let otherKey = SWIM.GossipSealer(keyring: GossipKeyring(primary: Self.keyB), label: "prod")
        let otherLabel = SWIM.GossipSealer(keyring: GossipKeyring(primary: Self.keyA), label: "staging")
        let noLabel = SWIM.GossipSealer(keyring: GossipKeyring(primary: Self.keyA))
        #expect(failure(otherKey.open(sealed, purpose: .datagram)) == .notAuthentic)
        #expect(failure(otherLabel.open(sealed, purpose: .datagram)) == .notAuthentic)
        #expect(failure(noLabel.open(sealed, purpose: .datagram)) == .notAuthentic)
        #expect(failure(sealer.open(sealed, purpose: .pushPull)) == .notAuthentic)
        if case .failure(let error) = otherKey.open(sealed, purpose: .datagram) {
            #expect(error.description.contains("does not open with the gossip key"))
        }
    }

    @Test func plaintextAndUnknownVersionsAreToldApart() throws {
        #expect(failure(sealer.open(message, purpose: .datagram)) == .plaintext)
        // A plaintext message with a cluster label in front is plaintext too.
        let labelled = SWIM.WireCodec.encode(SWIM.Packet(message: .gossip), label: try SWIM.WireLabel("disco"))
        #expect(failure(sealer.open(labelled, purpose: .datagram)) == .plaintext)
        #expect(failure(sealer.open([0x42] + [UInt8](repeating: 0, count: 40), purpose: .datagram)) == .unknownVersion)
        #expect(failure(sealer.open([], purpose: .datagram)) == .truncated)
        #expect(failure(sealer.open([SWIM.GossipSealer.version], purpose: .datagram)) == .truncated)
    }

    /// GCM does not stop replays; SWIM tolerates them (incarnations order what messages say).
    @Test func aReplayedEnvelopeOpensAgainToTheSameMessage() throws {
        let sealed = try sealer.seal(message, purpose: .datagram)
        #expect(opened(sealer.open(sealed, purpose: .datagram)) == message)
        #expect(opened(sealer.open(sealed, purpose: .datagram)) == message)
    }

    /// The three rotation steps: install the new key as accepted, make it primary, drop the old.
    @Test func rotationStepsKeepEveryPairOfStepsTalking() throws {
        let old = GossipKeyring(primary: Self.keyA)
        let installed = GossipKeyring(primary: Self.keyA, accepted: [Self.keyB])
        let switched = GossipKeyring(primary: Self.keyB, accepted: [Self.keyA])
        let removed = GossipKeyring(primary: Self.keyB)
        let steps = [old, installed, switched, removed]
        // Members at adjacent steps (the only ones that meet in a rolling rotation) understand
        // each other both ways.
        for (first, second) in zip(steps, steps.dropFirst()) {
            for (from, to) in [(first, second), (second, first)] {
                let sent = try SWIM.GossipSealer(keyring: from, label: "prod").seal(message, purpose: .datagram)
                #expect(opened(SWIM.GossipSealer(keyring: to, label: "prod").open(sent, purpose: .datagram)) == message)
            }
        }
        // Skipping a step breaks it: the old ring cannot read the new primary.
        let sent = try SWIM.GossipSealer(keyring: removed, label: "prod").seal(message, purpose: .datagram)
        #expect(failure(SWIM.GossipSealer(keyring: old, label: "prod").open(sent, purpose: .datagram)) == .notAuthentic)
        // Which key opened it is reported (0 is the primary).
        let viaAccepted = SWIM.GossipSealer(keyring: switched, label: "prod").open(
            try SWIM.GossipSealer(keyring: installed, label: "prod").seal(message, purpose: .datagram), purpose: .datagram)
        #expect((try? viaAccepted.get())?.keyIndex == 1)
    }

    @Test func fingerprintsNameKeysWithoutShowingThem() {
        #expect(Self.keyA.fingerprint.count == 8)
        #expect(Self.keyA.fingerprint != Self.keyB.fingerprint)
        #expect(Self.keyA.fingerprint == Self.key(0xA1).fingerprint)
        let ring = GossipKeyring(primary: Self.keyA, accepted: [Self.keyB, Self.keyC])
        #expect(ring.fingerprints == "primary=\(Self.keyA.fingerprint) accepted=\(Self.keyB.fingerprint),\(Self.keyC.fingerprint)")
        #expect(!"\(ring)".contains("\(Self.keyA.bytes)"))
    }
}
