@testable import DiscoCLI
import DiscoCore
import Testing

// MARK: - discod's gossip encryption flags

@Suite struct GossipEncryptionOptionsTests {
    static let key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
    static let other = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
    static let files: [String: String] = [
        "/etc/disco/keyring.json": #"{"primary": "\#(other)", "accepted": ["\#(key)"]}"#,
        "/etc/disco/bad.json": #"{"primary": "\#(key)", "extra": []}"#,
    ]

    let loader = DiscoConfigLoader(environment: { _ in nil }, readFile: { path in files[path].map { Array($0.utf8) } })

    func parse(_ arguments: [String]) throws(FlagError) -> DiscodOptions {
        try DiscodOptions.parse(arguments + ["data"], loader: loader)
    }

    func failure(_ arguments: [String]) -> FlagError? {
        do {
            _ = try parse(arguments)
            return nil
        } catch {
            return error
        }
    }

    @Test func noKeyMeansPlaintextGossip() throws {
        #expect(try parse([]).gossipEncryption == nil)
    }

    /// `-gossip-key "$KEY"` with KEY unset (or empty) ran the node with plaintext gossip and
    /// Raft, silently; a key that is given must be a key.
    @Test(arguments: ["gossip-key", "gossip-keyring"])
    func anEmptyKeyOrKeyringIsRefused(flag: String) throws {
        let error = try #require(failure(["-\(flag)", ""]))
        #expect(error.flag == flag)
        #expect(error.message.contains("is empty"), "\(error.message)")
        #expect(error.exitStatus == 2)
        #expect(failure(["-\(flag)="])?.flag == flag)
    }

    @Test func gossipKeySealsWithOneKey() throws {
        let gossip = try #require(try parse(["-gossip-key", Self.key]).gossipEncryption)
        #expect(gossip.keyring == GossipKeyring(primary: try GossipKey(base64: Self.key)))
        #expect(gossip.keyringPath == nil)
        #expect(gossip.verifyIncoming && gossip.verifyOutgoing)
        let logged = try parse(["-gossip-key", Self.key]).metadata["gossip_encryption"]
        #expect(logged == "key")
    }

    @Test func gossipKeyringIsReadAndCheckedAtStart() throws {
        let gossip = try #require(try parse(["-gossip-keyring", "/etc/disco/keyring.json"]).gossipEncryption)
        #expect(gossip.keyring.primary == (try GossipKey(base64: Self.other)))
        #expect(gossip.keyring.accepted == [try GossipKey(base64: Self.key)])
        #expect(gossip.keyringPath == "/etc/disco/keyring.json")
    }

    @Test func migrationSwitches() throws {
        let gossip = try #require(try parse(["-gossip-key", Self.key, "-gossip-verify-incoming=false",
                                             "-gossip-verify-outgoing=false"]).gossipEncryption)
        #expect(!gossip.verifyIncoming && !gossip.verifyOutgoing)
        #expect(gossip.summary == "key, plaintext accepted, plaintext sent")
    }

    @Test func badValuesNameTheFlagAndWhatIsExpected() {
        let short = failure(["-gossip-key", "AAAA"])
        #expect(short?.flag == "gossip-key")
        #expect(short?.message.contains("decodes to 3 bytes, but AES-256 needs exactly 32") == true)
        #expect(short?.message.contains("AAAA") == false, "a key must never be echoed")

        let both = failure(["-gossip-key", Self.key, "-gossip-keyring", "/etc/disco/keyring.json"])
        #expect(both?.message.contains("cannot be used together") == true)

        let missing = failure(["-gossip-keyring", "/etc/disco/none.json"])
        #expect(missing?.flag == "gossip-keyring")
        #expect(missing?.message.contains(#""/etc/disco/none.json" does not exist"#) == true)

        let bad = failure(["-gossip-keyring", "/etc/disco/bad.json"])
        #expect(bad?.message.contains(#"unknown field "extra""#) == true)
        #expect(bad?.message.contains("/etc/disco/bad.json") == true)

        let alone = failure(["-gossip-verify-incoming=false"])
        #expect(alone?.flag == "gossip-verify-incoming")
        #expect(alone?.message.contains("give -gossip-key or -gossip-keyring too") == true)
    }

    @Test func helpListsTheFlagsInTheirGroup() {
        let usage = DiscodFlags().flagSet.usage()
        #expect(usage.contains("Gossip encryption"))
        for flag in ["-gossip-key", "-gossip-keyring", "-gossip-verify-incoming", "-gossip-verify-outgoing"] {
            #expect(usage.contains(flag))
        }
    }
}
