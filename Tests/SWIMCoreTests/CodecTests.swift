import DiscoCore
import Testing
@testable import SWIMCore

// MARK: - Wire codec

@Suite struct CodecTests {
    static let metadata = SWIM.Metadata(apiAddress: PeerAddress(host: "api.local", port: 4001, scheme: .https),
                                        roles: ["voter", "ρόλος"], epoch: 1 << 40, isVoter: true)
    static let items: [SWIM.GossipItem] = [
        .alive(id: node("a"), incarnation: 0, address: PeerAddress(host: "::1", port: 7946), metadata: metadata),
        .alive(id: node("b"), incarnation: .max, address: PeerAddress(host: "10.0.0.2", port: 1), metadata: SWIM.Metadata()),
        .suspect(id: node("c"), incarnation: 300, accuser: node("a")),
        .dead(id: node("d"), incarnation: 1, accuser: node("b")),
        .left(id: node("e"), incarnation: 2),
    ]

    @Test(arguments: [
        SWIM.Message.ping(sequence: 1, source: node("a"), target: node("b")),
        .ack(sequence: .max, source: node("b")),
        .nack(sequence: 0),
        .pingRequest(sequence: 77, source: node("a"), target: node("c"), targetAddress: PeerAddress(host: "host-c", port: 65535)),
        .gossip,
    ])
    func packetsRoundTrip(message: SWIM.Message) throws {
        for gossip in [[], Self.items] {
            let packet = SWIM.Packet(message: message, gossip: gossip)
            #expect(try SWIM.WireCodec.decodePacket(SWIM.WireCodec.encode(packet)) == packet)
        }
    }

    @Test func pushPullRoundTrips() throws {
        let state = SWIM.PushPullState(sender: node("a"), isJoin: true, members: [
            SWIM.MemberState(id: node("a"), address: PeerAddress(host: "h", port: 2), incarnation: 9, status: .alive, metadata: Self.metadata),
            SWIM.MemberState(id: node("b"), address: PeerAddress(host: "h2", port: 3), incarnation: 0, status: .left, metadata: SWIM.Metadata()),
        ])
        #expect(try SWIM.WireCodec.decodePushPull(SWIM.WireCodec.encode(state)) == state)
        let empty = SWIM.PushPullState(sender: node("z"), isJoin: false, members: [])
        #expect(try SWIM.WireCodec.decodePushPull(SWIM.WireCodec.encode(empty)) == empty)
    }

    @Test func everyTruncationIsRejectedAsTruncated() {
        let bytes = SWIM.WireCodec.encode(SWIM.Packet(message: .ping(sequence: 300, source: node("a"), target: node("b")), gossip: Self.items))
        for length in 0..<bytes.count {
            #expect(throws: SWIM.CodecError.self) { _ = try SWIM.WireCodec.decodePacket(Array(bytes.prefix(length))) }
        }
        #expect(code { _ = try SWIM.WireCodec.decodePacket(Array(bytes.prefix(bytes.count - 1))) } == .truncated)
    }

    func code(_ body: () throws -> Void) -> SWIM.CodecError.Code? {
        do { try body() } catch let error as SWIM.CodecError { return error.code } catch { return nil }
        return nil
    }

    func error(_ body: () throws -> Void) -> SWIM.CodecError? {
        do { try body() } catch let error as SWIM.CodecError { return error } catch { return nil }
        return nil
    }

    @Test func rejectionsNameTheProblem() throws {
        let ping = SWIM.WireCodec.encode(SWIM.Packet(message: .ping(sequence: 1, source: node("a"), target: node("b"))))
        var versioned = ping
        versioned[0] = 2
        let version = try #require(error { _ = try SWIM.WireCodec.decodePacket(versioned) })
        #expect(version.code == .unsupportedVersion)
        #expect(version.description.contains("expected 1"))

        var typed = ping
        typed[1] = 9
        #expect(code { _ = try SWIM.WireCodec.decodePacket(typed) } == .unknownType)
        #expect(code { _ = try SWIM.WireCodec.decodePacket(ping + [0]) } == .trailingBytes)
        #expect(code { _ = try SWIM.WireCodec.decodePacket([UInt8](repeating: 1, count: 70_000)) } == .oversize)
        #expect(code { _ = try SWIM.WireCodec.decodePacket([1, 3, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0]) } == .badLength)
        #expect(code { _ = try SWIM.WireCodec.decodePacket([1, 3, 0x80, 0x00, 0]) } == .badLength)  // not minimal
        #expect(code { _ = try SWIM.WireCodec.decodePacket([1, 3, 0x80, 0x80, 0x80, 0x80, 0x10, 0]) } == .invalidValue)  // > UInt32

        // A node ID with a space.
        let badID = try #require(error { _ = try SWIM.WireCodec.decodePacket([1, 2, 1, 3, 0x61, 0x20, 0x62, 0]) })
        #expect(badID.code == .invalidValue)
        #expect(badID.description.contains("not a node ID"))
        // Invalid UTF-8.
        #expect(code { _ = try SWIM.WireCodec.decodePacket([1, 2, 1, 2, 0xC3, 0x28, 0]) } == .invalidValue)
        // Unknown gossip kind.
        #expect(code { _ = try SWIM.WireCodec.decodePacket([1, 5, 1, 9]) } == .unknownType)
        // Port 0 and a bad host character in a ping-request.
        #expect(code { _ = try SWIM.WireCodec.decodePacket([1, 4, 1, 1, 0x61, 1, 0x62, 1, 0x68, 0, 0, 0]) } == .invalidValue)
        #expect(code { _ = try SWIM.WireCodec.decodePacket([1, 4, 1, 1, 0x61, 1, 0x62, 1, 0x2F, 0, 1, 0]) } == .invalidValue)
        // Seventeen roles.
        var roles = SWIM.WireCodec.encode(SWIM.Packet(message: .gossip, gossip: [
            .alive(id: node("a"), incarnation: 0, address: PeerAddress(host: "h", port: 1), metadata: SWIM.Metadata(roles: ["r"])),
        ]))
        let roleCountIndex = roles.count - 3
        #expect(roles[roleCountIndex] == 1)
        roles[roleCountIndex] = 17
        #expect(code { _ = try SWIM.WireCodec.decodePacket(roles) } == .oversize)
    }

    @Test func pushPullRejections() throws {
        let state = SWIM.WireCodec.encode(SWIM.PushPullState(sender: node("a"), isJoin: false, members: [
            SWIM.MemberState(id: node("b"), address: PeerAddress(host: "h", port: 2), incarnation: 1, status: .dead, metadata: SWIM.Metadata()),
        ]))
        for length in 0..<state.count {
            #expect(throws: SWIM.CodecError.self) { _ = try SWIM.WireCodec.decodePushPull(Array(state.prefix(length))) }
        }
        var status = state
        status[status.count - 4] = 7
        #expect(code { _ = try SWIM.WireCodec.decodePushPull(status) } == .invalidValue)
        // A member count that cannot fit the bytes left is refused before allocating.
        #expect(code { _ = try SWIM.WireCodec.decodePushPull([1, 0x10, 0, 1, 0x61, 0xFF, 0xFF, 0x0F]) } == .badLength)
        #expect(code { _ = try SWIM.WireCodec.decodePushPull([1, 0x10, 0, 1, 0x61, 0xFF, 0xFF, 0xFF, 0x7F]) } == .oversize)
        #expect(code { _ = try SWIM.WireCodec.decodePushPull([1, 0x10, 2, 1, 0x61, 0]) } == .invalidValue)
        // A datagram is not a push-pull and vice versa.
        #expect(code { _ = try SWIM.WireCodec.decodePushPull(SWIM.WireCodec.encode(SWIM.Packet(message: .gossip))) } == .unknownType)
        #expect(code { _ = try SWIM.WireCodec.decodePacket(state) } == .unknownType)
    }
}
