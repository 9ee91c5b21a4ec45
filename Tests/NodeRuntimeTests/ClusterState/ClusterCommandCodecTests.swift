import DiscoCore
@testable import NodeRuntime
import Testing

@Suite("Cluster command codec")
struct ClusterCommandCodecTests {
    static let longName = String(repeating: "n", count: 255)

    static let commands: [ClusterCommand] = [
        .initialize(cluster: "prod", epoch: 1),
        .initialize(cluster: "", epoch: 0),
        .initialize(cluster: longName, epoch: .max),
        .initialize(cluster: "grün-é😀", epoch: 42),
        .upsertMember(ClusterMember(id: "n1", raftAddress: "10.0.0.1:4002", apiAddress: "10.0.0.1:4001", voter: true)),
        .upsertMember(ClusterMember(id: NodeID(longName)!, raftAddress: longName, apiAddress: "", voter: false)),
        .upsertMember(ClusterMember(id: "[::1]", raftAddress: "[::1]:4002", apiAddress: "[::1]:4001", voter: true)),
        .removeMember("n1"),
        .removeMember(NodeID(longName)!),
        .appendEvent(timeMillis: 1_700_000_000_000, data: json(#"{"a":[1,2,{"b":null}]}"#)),
        .appendEvent(timeMillis: .min, data: json("0")),
        .appendEvent(timeMillis: .max, data: json(" \"spaced\" \n")),
        .appendEvent(timeMillis: -1, data: json("[" + String(repeating: "1,", count: 1000) + "1]")),
        .trimEvents(through: 1),
        .trimEvents(through: .max),
        .upsertMember(ClusterMember(id: "n2", raftAddress: "a:1", apiAddress: "a:2", voter: true, keyHash: [UInt8](repeating: 7, count: 32))),
        .appendEventOnce(timeMillis: 1_700_000_000_000, key: "0b7e5b8c-retry", data: json(#"{"deploy":"v2"}"#)),
        .appendEventOnce(timeMillis: -5, key: String(repeating: "k", count: 128), data: json("[]")),
        .upsertMember(ClusterMember(id: "n3", raftAddress: "a:1", apiAddress: "a:2", voter: false, roles: ["dns", "host"])),
        .kvTransaction(KVTransaction(operations: [.put(KVKey("api-keys", "k1"), json("hash"))])),
        .kvTransaction(KVTransaction(conditions: [.absent(KVKey("lease.web", "holder")), KVCondition(KVKey("a", "b c/é"), revision: .max)],
                                     operations: [.put(KVKey("lease.web", "holder"), []), .delete(KVKey("a", "b c/é")),
                                                  .deletePrefix(namespace: "cursors", prefix: ""), .deletePrefix(namespace: "c", prefix: "n1/")])),
    ]

    @Test("every command survives encode and decode", arguments: commands)
    func roundTrip(_ command: ClusterCommand) throws {
        let bytes = try command.encode()
        #expect(bytes[0] == ClusterCommand.formatVersion)
        #expect(try ClusterCommand.decode(bytes) == command)
    }

    @Test("the wire format is stable (golden bytes, also the fuzzer's seeds)")
    func goldenBytes() throws {
        let initialize: [UInt8] = [4, 1, 4] + json("prod") + [0, 0, 0, 0, 0, 0, 0, 7]
        #expect(try ClusterCommand.initialize(cluster: "prod", epoch: 7).encode() == initialize)
        let upsert: [UInt8] = [4, 2, 2] + json("n1") + [13] + json("10.0.0.1:4002") + [13] + json("10.0.0.1:4001") + [1, 0, 0]
            + [0, 0, 0, 0, 0, 0, 0, 0]
        let n1 = ClusterMember(id: "n1", raftAddress: "10.0.0.1:4002", apiAddress: "10.0.0.1:4001", voter: true)
        #expect(try ClusterCommand.upsertMember(n1).encode() == upsert)
        var keyed = n1
        keyed.keyHash = [UInt8](repeating: 0xAB, count: 32)
        keyed.roles = ["dns", "web-1"]
        keyed.generation = 0x0102_0304_0506_0708
        #expect(try ClusterCommand.upsertMember(keyed).encode()
            == Array(upsert.dropLast(10)) + [32] + keyed.keyHash + [2, 3] + json("dns") + [5] + json("web-1") + [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try ClusterCommand.removeMember("n1").encode() == [4, 3, 2] + json("n1"))
        let event: [UInt8] = [4, 4, 0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00, 0, 0, 0, 14] + json(#"{"a":[1,true]}"#)
        #expect(try ClusterCommand.decode(event) == .appendEvent(timeMillis: 0x018B_CFE5_6800, data: json(#"{"a":[1,true]}"#)))
        #expect(try ClusterCommand.trimEvents(through: 0x0102).encode() == [4, 5, 0, 0, 0, 0, 0, 0, 1, 2])
        let once: [UInt8] = [4, 6, 0, 0, 0, 0, 0, 0, 0, 9, 3] + json("k-1") + [0, 0, 0, 2] + json("{}")
        #expect(try ClusterCommand.appendEventOnce(timeMillis: 9, key: "k-1", data: json("{}")).encode() == once)
        let transaction: [UInt8] = [4, 7, 1, 1] + json("a") + [1] + json("k") + [0, 0, 0, 0, 0, 0, 0, 5]
            + [2, 1, 1] + json("a") + [1] + json("k") + [0, 0, 0, 2] + json("v2") + [3, 1] + json("a") + [0]
        #expect(try ClusterCommand.kvTransaction(KVTransaction(conditions: [KVCondition(KVKey("a", "k"), revision: 5)],
                                                               operations: [.put(KVKey("a", "k"), json("v2")), .deletePrefix(namespace: "a", prefix: "")]))
            .encode() == transaction)
    }

    @Test("version 3 commands (before member generations) are still read, as generation 0")
    func versionThreeIsRead() throws {
        let upsert: [UInt8] = [3, 2, 2] + json("n1") + [13] + json("10.0.0.1:4002") + [13] + json("10.0.0.1:4001") + [1, 0, 1, 3] + json("dns")
        #expect(try ClusterCommand.decode(upsert)
            == .upsertMember(ClusterMember(id: "n1", raftAddress: "10.0.0.1:4002", apiAddress: "10.0.0.1:4001", voter: true, roles: ["dns"])))
        // The same bytes in version 4 lack the generation: refused as truncated, naming it.
        #expect(decodeError([4] + upsert.dropFirst())?.field == "member.generation")
        var transaction = try ClusterCommand.kvTransaction(KVTransaction(operations: [.delete(KVKey("a", "k"))])).encode()
        transaction[0] = 3
        #expect(try ClusterCommand.decode(transaction) == .kvTransaction(KVTransaction(operations: [.delete(KVKey("a", "k"))])))
    }

    @Test("a member's generation survives encode and decode, up to the largest")
    func generationRoundTrip() throws {
        for generation: UInt64 in [0, 1, 1_764_900_000_000, .max] {
            let member = ClusterMember(id: "n1", raftAddress: "a:1", apiAddress: "a:2", voter: true, generation: generation)
            #expect(try ClusterCommand.decode(ClusterCommand.upsertMember(member).encode()) == .upsertMember(member))
        }
    }

    @Test("version 2 commands (before member roles and the key-value state) are still read")
    func versionTwoIsRead() throws {
        let upsert: [UInt8] = [2, 2, 2] + json("n1") + [13] + json("10.0.0.1:4002") + [13] + json("10.0.0.1:4001") + [1, 0]
        #expect(try ClusterCommand.decode(upsert)
            == .upsertMember(ClusterMember(id: "n1", raftAddress: "10.0.0.1:4002", apiAddress: "10.0.0.1:4001", voter: true)))
        let once: [UInt8] = [2, 6, 0, 0, 0, 0, 0, 0, 0, 9, 3] + json("k-1") + [0, 0, 0, 2] + json("{}")
        #expect(try ClusterCommand.decode(once) == .appendEventOnce(timeMillis: 9, key: "k-1", data: json("{}")))
        var transaction = try ClusterCommand.kvTransaction(KVTransaction(operations: [.delete(KVKey("a", "k"))])).encode()
        transaction[0] = 2
        #expect(decodeError(transaction)?.description.contains("(tag 7 needs format version 3)") == true)
    }

    @Test("transactions outside their limits are refused both ways, naming the field")
    func transactionLimits() throws {
        let key = KVKey("a", "k")
        #expect(encodeError(.kvTransaction(KVTransaction(operations: [])))?.message == "a transaction needs at least one operation")
        for bad in ["", "Upper", "1abc", "a_b", String(repeating: "a", count: 64)] {
            #expect(encodeError(.kvTransaction(KVTransaction(operations: [.delete(KVKey(bad, "k"))])))?.field == "transaction", "\(bad)")
        }
        #expect(encodeError(.kvTransaction(KVTransaction(operations: [.delete(KVKey("a", ""))])))?.message.contains("key name") == true)
        #expect(encodeError(.kvTransaction(KVTransaction(operations: [.delete(KVKey("a", "tab\t"))])))?.message.contains("control") == true)
        let big = [UInt8](repeating: 1, count: KVLimits.maxValueBytes + 1)
        #expect(encodeError(.kvTransaction(KVTransaction(operations: [.put(key, big)])))?.message
            == "value of a/k is 65537 bytes; the limit is 65536 bytes")
        let many = [KVOperation](repeating: .delete(key), count: KVLimits.maxOperations + 1)
        #expect(encodeError(.kvTransaction(KVTransaction(operations: many)))?.message == "65 operations exceed the limit of 64 per transaction")

        var bytes = try ClusterCommand.kvTransaction(KVTransaction(operations: [.put(key, json("v"))])).encode()
        bytes[6] = UInt8(ascii: "A")  // the namespace "a"
        #expect(decodeError(bytes)?.description.hasPrefix("cluster command: invalid-value at byte 6 (field operations[0].namespace): namespace \"A\"") == true,
                "\(String(describing: decodeError(bytes)))")
        var op = try ClusterCommand.kvTransaction(KVTransaction(operations: [.delete(key)])).encode()
        op[4] = 9
        #expect(decodeError(op)?.description
            == "cluster command: invalid-value at byte 4 (field operations[0].op): expected 1 (put), 2 (delete) or 3 (deletePrefix), found 9")
        var none = try ClusterCommand.kvTransaction(KVTransaction(operations: [.delete(key)])).encode()
        none[3] = 0
        #expect(decodeError(Array(none[..<4]))?.field == "operations.count")
        let oversize: [UInt8] = [3, 7, 0, 1, 1, 1] + json("a") + [1] + json("k") + [0, 1, 0, 1]
        #expect(decodeError(oversize)?.description
            == "cluster command: too-large at byte 9 (field operations[0].value): length 65537 exceeds the limit of 65536 bytes")
    }

    @Test("version 1 commands (before key hashes and idempotency keys) are still read")
    func versionOneIsRead() throws {
        let upsert: [UInt8] = [1, 2, 2] + json("n1") + [13] + json("10.0.0.1:4002") + [13] + json("10.0.0.1:4001") + [1]
        #expect(try ClusterCommand.decode(upsert)
            == .upsertMember(ClusterMember(id: "n1", raftAddress: "10.0.0.1:4002", apiAddress: "10.0.0.1:4001", voter: true)))
        #expect(try ClusterCommand.decode([1, 3, 2] + json("n1")) == .removeMember("n1"))
        let once: [UInt8] = [1, 6, 0, 0, 0, 0, 0, 0, 0, 9, 3] + json("k-1") + [0, 0, 0, 2] + json("{}")
        #expect(decodeError(once)?.description.contains("found 6 (tag 6 needs format version 2)") == true)
    }

    @Test("idempotency keys must be 1 to 128 visible ASCII characters; key hashes 0 or 32 bytes")
    func keyChecks() {
        for key in ["", "has space", String(repeating: "k", count: 129), "tab\t", "é"] {
            let error = encodeError(.appendEventOnce(timeMillis: 1, key: key, data: json("1")))
            #expect(error?.field == "key", "\(key.debugDescription)")
        }
        let bad: [UInt8] = [2, 6, 0, 0, 0, 0, 0, 0, 0, 9, 3] + json("a b") + [0, 0, 0, 1] + json("1")
        #expect(decodeError(bad)?.description.hasPrefix("cluster command: invalid-value at byte 11 (field key): idempotency key must be visible ASCII") == true,
                "\(String(describing: decodeError(bad)))")
        var hash = (try? ClusterCommand.upsertMember(member("n1")).encode()) ?? []
        let last = hash.count - 10  // the key hash length, before the role count and the generation
        hash[last] = 5
        #expect(decodeError(hash)?.field == "member.keyHash.length")
        #expect(encodeError(.upsertMember(ClusterMember(id: "n1", raftAddress: "a:1", apiAddress: "a:2", voter: true, keyHash: [1, 2])))?.field
            == "member.keyHash")
    }

    @Test("a trim through 0 is refused both ways; a truncated or padded trim is refused")
    func trimBounds() throws {
        #expect(encodeError(.trimEvents(through: 0))?.field == "through")
        #expect(decodeError([1, 5, 0, 0, 0, 0, 0, 0, 0, 0])?.description
            == "cluster command: invalid-value at byte 2 (field through): expected a sequence number of at least 1, found 0")
        #expect(decodeError([1, 5, 0, 0, 0, 1])?.code == .truncated)
        #expect(decodeError([1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0])?.code == .trailingBytes)
    }

    @Test("event data of exactly 1 MiB encodes; one byte more is refused")
    func eventDataLimit() throws {
        let string = "\"" + String(repeating: "x", count: ClusterLimits.maxEventBytes - 2) + "\""
        let largest = ClusterCommand.appendEvent(timeMillis: 5, data: json(string))
        #expect(try ClusterCommand.decode(largest.encode()) == largest)

        let tooLarge = ClusterCommand.appendEvent(timeMillis: 5, data: json(string + " "))
        let error = encodeError(tooLarge)
        #expect(error?.code == .tooLarge)
        #expect(error?.field == "data")
        #expect(error?.description == "cluster command: too-large (field data): 1048577 bytes exceeds the limit of 1048576 bytes")
    }

    @Test("names over 255 bytes and data that is not JSON are refused when encoding")
    func encodingRefusals() {
        let long = Self.longName + "x"
        let cluster = encodeError(ClusterCommand.initialize(cluster: long, epoch: 1))
        #expect(cluster?.description == "cluster command: too-large (field cluster): 256 bytes exceeds the limit of 255")
        let address = encodeError(ClusterCommand.upsertMember(ClusterMember(id: "n1", raftAddress: "a:1", apiAddress: long, voter: true)))
        #expect(address?.field == "member.apiAddress")
        let id = encodeError(ClusterCommand.removeMember(NodeID(long)!))
        #expect(id?.field == "id")
        let notJSON = encodeError(ClusterCommand.appendEvent(timeMillis: 1, data: json("{oops")))
        #expect(notJSON?.code == .invalidValue)
        #expect(notJSON?.description.hasPrefix("cluster command: invalid-value (field data): expected one JSON value: ") == true)
    }

    // MARK: Decoding errors

    @Test("an empty input and a truncated field name what is missing")
    func truncation() throws {
        #expect(decodeError([])?.description
            == "cluster command: truncated at byte 0 (field version): needs 1 byte, only 0 remain")
        let bytes = try ClusterCommand.upsertMember(member("n1")).encode()
        // 1 version, 1 tag, 1+2 id, then the raft address length and 13 bytes of it.
        let cut = Array(bytes[..<8])
        #expect(decodeError(cut)?.description
            == "cluster command: truncated at byte 6 (field member.raftAddress): needs 13 bytes, only 2 remain")
        // Every proper prefix is refused as truncated.
        for length in 0..<bytes.count {
            #expect(decodeError(Array(bytes[..<length]))?.code == .truncated)
        }
    }

    @Test("an unknown version or tag is refused, naming the expected values")
    func unknownVersionAndTag() throws {
        var bytes = try ClusterCommand.removeMember("n1").encode()
        bytes[0] = 5
        #expect(decodeError(bytes)?.description
            == "cluster command: unsupported-version at byte 0 (field version): expected format version 1 to 4, found 5")
        bytes[0] = 4
        bytes[1] = 9
        #expect(decodeError(bytes)?.description
            == "cluster command: unknown-tag at byte 1 (field tag): expected 1 (initialize), 2 (upsertMember), 3 (removeMember), 4 (appendEvent), 5 (trimEvents), 6 (appendEventOnce) or 7 (kvTransaction), found 9")
    }

    @Test("a declared event length over 1 MiB is refused before reading it")
    func oversizeEvent() {
        // version, tag 4, time 8 bytes, then length 0x00100001.
        let bytes: [UInt8] = [1, 4] + [UInt8](repeating: 0, count: 8) + [0x00, 0x10, 0x00, 0x01] + json("1")
        #expect(decodeError(bytes)?.description
            == "cluster command: too-large at byte 10 (field data): length 1048577 exceeds the limit of 1048576 bytes")
    }

    @Test("trailing bytes, bad flags, bad IDs, bad UTF-8 and non-JSON data are refused")
    func invalidValues() throws {
        let trailing = try ClusterCommand.removeMember("n1").encode() + [0]
        #expect(decodeError(trailing)?.description
            == "cluster command: trailing-bytes at byte 5 (field end): expected the end, found 1 more byte")

        var flag = try ClusterCommand.upsertMember(member("n1")).encode()
        flag[flag.count - 11] = 2
        #expect(decodeError(flag)?.description
            == "cluster command: invalid-value at byte \(flag.count - 11) (field member.voter): expected 0 or 1, found 2")
        var role = try ClusterCommand.upsertMember(ClusterMember(id: "n1", raftAddress: "a:1", apiAddress: "a:2", voter: true, roles: ["dns"])).encode()
        role[role.count - 11] = UInt8(ascii: "D")
        #expect(decodeError(role)?.description.hasPrefix("cluster command: invalid-value at byte \(role.count - 11) (field member.roles[0]): role name \"Dns\"") == true,
                "\(String(describing: decodeError(role)))")

        let spaceID: [UInt8] = [2, 3, 3] + json("a b")
        #expect(decodeError(spaceID)?.description
            == #"cluster command: invalid-value at byte 3 (field id): expected a node ID (non-empty, no whitespace or control characters), found "a b""#)
        let emptyID: [UInt8] = [2, 3, 0]
        #expect(decodeError(emptyID)?.field == "id")

        let badUTF8: [UInt8] = [2, 1, 2, 0xC3, 0x28] + [UInt8](repeating: 0, count: 8)
        #expect(decodeError(badUTF8)?.description
            == "cluster command: invalid-value at byte 3 (field cluster): expected UTF-8 text, found invalid bytes")

        let minimalEvent: [UInt8] = [1, 4] + [UInt8](repeating: 0, count: 8) + [0, 0, 0, 2] + json("{}")
        #expect(try ClusterCommand.decode(minimalEvent) == .appendEvent(timeMillis: 0, data: json("{}")))
        let garbage: [UInt8] = [1, 4] + [UInt8](repeating: 0, count: 8) + [0, 0, 0, 3] + json("{x}")
        let error = decodeError(garbage)
        #expect(error?.code == .invalidValue)
        #expect(error?.offset == 14)
        #expect(error?.field == "data")
    }
}
