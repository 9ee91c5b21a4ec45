import DiscoNet
import Testing

@Suite("Frame decoder")
struct FrameDecoderTests {
    @Test func roundTripsFramesSplitAtEveryByte() throws {
        let frames = [Frame(type: 1, payload: []), Frame(type: 7, payload: Array("hello".utf8)), Frame(type: 255, payload: Array(repeating: 9, count: 300))]
        let wire = frames.flatMap { $0.encoded() }
        var decoder = FrameDecoder()
        var decoded: [Frame] = []
        for byte in wire {
            decoder.append([byte])
            while let frame = try decoder.next() { decoded.append(frame) }
        }
        #expect(decoded == frames)
        try decoder.finish()
    }

    @Test func encodingIsLengthVersionTypePayload() {
        #expect(Frame(type: 3, payload: [0xAA, 0xBB]).encoded() == [0, 0, 0, 4, 1, 3, 0xAA, 0xBB])
    }

    @Test func rejectsOversizeFramesAtTheHeader() {
        var decoder = FrameDecoder(maxPayloadBytes: 10)
        decoder.append([0, 0, 0, 13])
        #expect(throws: FrameError.self) { try decoder.next() }
        do {
            _ = try decoder.next()
        } catch {
            #expect(error.code == .oversize)
            #expect(error.description.contains("11 bytes exceeds the limit of 10"))
        }
    }

    @Test func rejectsUnknownVersion() {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 2, 9, 1])
        do {
            _ = try decoder.next()
            Issue.record("expected unknown version")
        } catch {
            #expect(error.code == .unknownVersion)
            #expect(error.description.contains("version 9"))
        }
    }

    @Test func rejectsLengthBelowTwo() {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 1, 1])
        #expect(throws: FrameError(.undersize, "length 1 is below 2 (version and type bytes)")) { try decoder.next() }
    }

    @Test func truncatedStreamIsReported() throws {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 5, 1, 1, 0xAA])
        #expect(try decoder.next() == nil)
        #expect(throws: FrameError.self) { try decoder.finish() }
    }
}
