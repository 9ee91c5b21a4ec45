import DiscoCore
import Testing

// MARK: - Gossip keys and keyring files

@Suite struct GossipKeyringTests {
    /// `openssl rand -base64 32` output shapes.
    static let one = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
    static let two = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
    static let three = "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="

    func parse(_ text: String) throws(ConfigError) -> GossipKeyring {
        try GossipKeyring.parse(Array(text.utf8), origin: "gossip keyring file \"k.json\"")
    }

    func message(_ text: String) -> String {
        do { _ = try parse(text) } catch { return error.message }
        return "parsed"
    }

    @Test func keyFromBase64() throws {
        let key = try GossipKey(base64: Self.one)
        #expect(key.bytes == [UInt8](repeating: 1, count: 32))
        #expect("\(key)" == "GossipKey(<redacted>)")
    }

    @Test func badKeysNameTheProblemAndTheExpectedShape() {
        func reason(_ text: String) -> String {
            do { _ = try GossipKey(base64: text) } catch { return error.message }
            return "parsed"
        }
        #expect(reason("").contains("empty"))
        #expect(reason("abc").contains("3 characters is not a whole number of base64 groups of 4"))
        #expect(reason("ab!d").contains("characters other than"))
        // 16 bytes (an AES-128 key as serf also accepts) is refused: AES-256 only.
        #expect(reason("AAAAAAAAAAAAAAAAAAAAAA==").contains("decodes to 16 bytes, but AES-256 needs exactly 32"))
        #expect(reason("AAAA").contains("openssl rand -base64 32"))
    }

    @Test func objectForm() throws {
        let ring = try parse(#"{"primary": "\#(Self.one)", "accepted": ["\#(Self.two)", "\#(Self.three)"]}"#)
        #expect(ring.primary.bytes.first == 1)
        #expect(ring.accepted.map { $0.bytes.first } == [2, 3])
        #expect(ring.keys.count == 3)
        let alone = try parse(#"{"primary": "\#(Self.one)"}"#)
        #expect(alone.accepted.isEmpty)
        #expect(try parse(#"{"primary": "\#(Self.one)", "accepted": []}"#) == alone)
    }

    @Test func serfArrayFormHasThePrimaryFirst() throws {
        let ring = try parse(#"["\#(Self.two)", "\#(Self.one)"]"#)
        #expect(ring.primary.bytes.first == 2)
        #expect(ring.accepted.map { $0.bytes.first } == [1])
    }

    @Test func duplicatesAndThePrimaryAmongAcceptedAreDropped() throws {
        let ring = try parse(#"{"primary": "\#(Self.one)", "accepted": ["\#(Self.one)", "\#(Self.two)", "\#(Self.two)"]}"#)
        #expect(ring.accepted.map { $0.bytes.first } == [2])
    }

    @Test func badDocumentsAreRefusedNamingTheFileAndField() {
        #expect(message("").contains("gossip keyring file \"k.json\""))
        #expect(message("{").contains("expected {\"primary\""))
        #expect(message("{}").contains("missing required field \"primary\""))
        #expect(message(#"{"primary": "\#(Self.one)", "acepted": []}"#).contains("did you mean \"accepted\"?"))
        #expect(message(#"{"primary": 5}"#).contains("field \"primary\": expected a string"))
        #expect(message(#"{"primary": "\#(Self.one)", "accepted": "\#(Self.two)"}"#).contains("expected an array of strings"))
        #expect(message(#"{"primary": "\#(Self.one)", "accepted": ["no!e"]}"#)
            .contains("field \"accepted\" element 0: the key is not valid base64"))
        #expect(message(#"{"primary": "AAAAAAAAAAAAAAAAAAAAAA=="}"#).contains("field \"primary\": the key decodes to 16 bytes"))
        #expect(message("[]").contains("the key list is empty"))
        #expect(message("[1]").contains("element 0: expected a base64 key string"))
        #expect(message(#""\#(Self.one)""#).contains("expected a JSON object"))
    }
}
