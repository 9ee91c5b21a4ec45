import DiscoCore
import Testing
@testable import SWIMCore

// MARK: - Cluster labels on plaintext messages

@Suite struct WireLabelTests {
    static let packet = SWIM.Packet(message: .ping(sequence: 9, source: node("a"), target: node("b")), gossip: CodecTests.items)
    static let state = SWIM.PushPullState(sender: node("a"), isJoin: true, members: [
        SWIM.MemberState(id: node("a"), address: PeerAddress(host: "h", port: 2), incarnation: 3, status: .alive, metadata: CodecTests.metadata),
    ])

    func error(_ body: () throws -> Void) -> SWIM.CodecError? {
        do { try body() } catch let error as SWIM.CodecError { return error } catch { return nil }
        return nil
    }

    @Test(arguments: ["disco", "a", "κλάστερ-1", String(repeating: "x", count: 255)])
    func labelledMessagesRoundTrip(name: String) throws {
        let label = try SWIM.WireLabel(name)
        let datagram = SWIM.WireCodec.encode(Self.packet, label: label)
        #expect(datagram.starts(with: [0x4C, UInt8(name.utf8.count)] + Array(name.utf8) + [SWIM.WireCodec.version]))
        #expect(datagram.count == SWIM.WireCodec.encode(Self.packet).count + label.prefix.count)
        let decoded = try SWIM.WireCodec.decodeLabelledPacket(datagram)
        #expect(decoded.label == name)
        #expect(decoded.packet == Self.packet)

        let pushPull = try SWIM.WireCodec.decodeLabelledPushPull(SWIM.WireCodec.encode(Self.state, label: label))
        #expect(pushPull.label == name)
        #expect(pushPull.state == Self.state)
    }

    /// What a member of an older version sends (no label) still decodes, with no label.
    @Test func unlabelledMessagesDecodeWithoutALabel() throws {
        let decoded = try SWIM.WireCodec.decodeLabelledPacket(SWIM.WireCodec.encode(Self.packet))
        #expect(decoded.label == nil)
        #expect(decoded.packet == Self.packet)
        #expect(try SWIM.WireCodec.decodeLabelledPushPull(SWIM.WireCodec.encode(Self.state)).label == nil)
        #expect(try SWIM.WireCodec.readLabel(SWIM.WireCodec.encode(Self.packet)) == (nil, 0))
    }

    @Test func labelsThatCannotBeSentAreRefused() throws {
        let long = try #require(error { _ = try SWIM.WireLabel(String(repeating: "x", count: 256)) })
        #expect(long.code == .oversize)
        #expect(long.description.contains("256 bytes, at most 255"))
        #expect(error { _ = try SWIM.WireLabel("") }?.code == .invalidValue)
        #expect(error { _ = try SWIM.WireLabel("a\nb") }?.code == .invalidValue)
        // 128 two-byte characters are 256 bytes.
        #expect(error { _ = try SWIM.WireLabel(String(repeating: "é", count: 128)) }?.code == .oversize)
    }

    @Test func malformedLabelsAreRejectedWithAClearError() throws {
        let labelled = SWIM.WireCodec.encode(Self.packet, label: try SWIM.WireLabel("alpha"))
        // Every truncation fails with a codec error, never a crash.
        for length in 0..<labelled.count {
            #expect(throws: SWIM.CodecError.self) { _ = try SWIM.WireCodec.decodeLabelledPacket(Array(labelled.prefix(length))) }
        }
        let cut = try #require(error { _ = try SWIM.WireCodec.readLabel([0x4C, 5, 0x61, 0x6C]) })
        #expect(cut.code == .truncated)
        #expect(cut.description.contains("label declares 5 bytes but only 2 remain"))
        #expect(error { _ = try SWIM.WireCodec.readLabel([0x4C]) }?.code == .truncated)
        #expect(error { _ = try SWIM.WireCodec.readLabel([0x4C, 1, 0x61]) }?.description.contains("before the message") == true)

        let empty = try #require(error { _ = try SWIM.WireCodec.readLabel([0x4C, 0, 1, 5, 0]) })
        #expect(empty.code == .badLength)
        #expect(error { _ = try SWIM.WireCodec.readLabel([0x4C, 2, 0xC3, 0x28, 1, 5, 0]) }?.code == .invalidValue)  // not UTF-8
        #expect(error { _ = try SWIM.WireCodec.readLabel([0x4C, 1, 0x07, 1, 5, 0]) }?.code == .invalidValue)  // control character

        // A label may appear once; a labelled message needs its label read first.
        let twice = try #require(error { _ = try SWIM.WireCodec.decodeLabelledPacket([0x4C, 1, 0x61] + labelled) })
        #expect(twice.code == .unsupportedVersion)
        #expect(twice.offset == 3)
        #expect(twice.description.contains("a second label"))
        #expect(error { _ = try SWIM.WireCodec.decodePacket(labelled) }?.description.contains("read its label") == true)
        // Errors inside the message count offsets from the start of the datagram.
        var badType = labelled
        badType[8] = 9
        let type = try #require(error { _ = try SWIM.WireCodec.decodeLabelledPacket(badType) })
        #expect(type.code == .unknownType)
        #expect(type.offset == 8)
        // A labelled datagram is not a push-pull state.
        #expect(error { _ = try SWIM.WireCodec.decodeLabelledPushPull(labelled) }?.code == .unknownType)
    }
}
