import DiscoCore
import DiscoRaft
@testable import NodeRuntime
import Testing

@Suite("Cluster state transitions and snapshots")
struct ClusterStateTests {
    /// A state with a name, three members (one removed again) and five events.
    static func populated() -> ClusterState {
        var state = ClusterState()
        var index: UInt64 = 0
        func next() -> UInt64 {
            index += 2  // gaps, as Raft's own entries take indexes too
            return index
        }
        _ = state.apply(.initialize(cluster: "prod", epoch: 7), index: next())
        for (position, id) in ["n1", "n2", "n3"].enumerated() {
            _ = state.apply(.upsertMember(member(NodeID(id)!, port: 4002 + position * 10, voter: position != 2)), index: next())
        }
        _ = state.apply(.removeMember("n2"), index: next())
        for value in 1...5 { _ = state.apply(.appendEvent(timeMillis: Int64(value) * 1000, data: json(#"{"n":\#(value)}"#)), index: next()) }
        return state
    }

    @Test("the first initialize wins; later ones are ignored")
    func firstInitializeWins() {
        var state = ClusterState()
        #expect(!state.isInitialized)
        #expect(state.apply(.initialize(cluster: "a", epoch: 1), index: 1) == .initialized(cluster: "a", epoch: 1))
        #expect(state.apply(.initialize(cluster: "b", epoch: 2), index: 2)
            == .ignored(reason: #"already initialized as cluster "a" epoch 1"#))
        #expect(state.cluster == "a")
        #expect(state.epoch == 1)
        #expect(state.appliedIndex == 2)
    }

    @Test("upsert adds and then replaces a member; remove deletes it and ignores unknown IDs")
    func membership() {
        var state = ClusterState()
        let first = member("n1", port: 4002)
        let moved = ClusterMember(id: "n1", raftAddress: "10.9.9.9:5002", apiAddress: "10.9.9.9:5001", voter: false)
        #expect(state.apply(.upsertMember(first), index: 1) == .memberUpdated(first, previous: nil))
        #expect(state.apply(.upsertMember(member("n0", port: 4012)), index: 2) == .memberUpdated(member("n0", port: 4012), previous: nil))
        #expect(state.apply(.upsertMember(moved), index: 3) == .memberUpdated(moved, previous: first))
        #expect(state.members["n1"] == moved)
        #expect(state.sortedMembers.map(\.id) == ["n0", "n1"])
        #expect(state.apply(.removeMember("n1"), index: 4) == .memberRemoved(moved))
        #expect(state.apply(.removeMember("n1"), index: 5) == .ignored(reason: "no member n1 to remove"))
        #expect(state.sortedMembers.map(\.id) == ["n0"])
    }

    @Test("events get dense sequence numbers and the Raft index that appended them")
    func eventsAreDense() {
        var state = ClusterState()
        #expect(state.apply(.appendEvent(timeMillis: 10, data: json("1")), index: 3) == .eventAppended(seq: 1))
        _ = state.apply(.upsertMember(member("n1")), index: 4)
        #expect(state.apply(.appendEvent(timeMillis: 11, data: json("2")), index: 7) == .eventAppended(seq: 2))
        #expect(state.lastSeq == 2)
        #expect(state.events.map(\.index) == [3, 7])
        #expect(state.events(since: 0, limit: 1).map(\.seq) == [1])
        #expect(state.events(since: 1, limit: 10).map(\.seq) == [2])
        #expect(state.events(since: 2, limit: 10).isEmpty)
        #expect(state.events(since: 99, limit: 10).isEmpty)
        #expect(state.events(since: 0, limit: 0).isEmpty)
    }

    @Test("an index at or below the applied index is ignored")
    func staleIndexIgnored() {
        var state = ClusterState()
        _ = state.apply(.appendEvent(timeMillis: 1, data: json("1")), index: 5)
        #expect(state.apply(.appendEvent(timeMillis: 1, data: json("1")), index: 5)
            == .ignored(reason: "entry 5 is at or below the applied index 5"))
        #expect(state.lastSeq == 1)
        let skippedStale = state.skip(index: 4)
        let skippedNew = state.skip(index: 6)
        #expect(!skippedStale)
        #expect(skippedNew)
        #expect(state.appliedIndex == 6)
    }

    @Test("commands over the size limits are ignored, so every state fits its snapshot")
    func oversizeIgnored() throws {
        var state = ClusterState()
        let long = String(repeating: "a", count: 256)
        #expect(state.apply(.initialize(cluster: long, epoch: 1), index: 1)
            == .ignored(reason: "cluster is too long: 256 bytes exceeds the limit of 255"))
        #expect(state.apply(.upsertMember(ClusterMember(id: "n1", raftAddress: long, apiAddress: "", voter: true)), index: 2)
            == .ignored(reason: "raftAddress is too long: 256 bytes exceeds the limit of 255"))
        #expect(state.apply(.appendEvent(timeMillis: 0, data: [UInt8](repeating: 0x20, count: (1 << 20) + 1)), index: 3)
            == .ignored(reason: "event data is too large: 1048577 bytes exceeds the limit of 1048576 bytes"))
        #expect(state.appliedIndex == 3)
        #expect(try ClusterState(snapshot: state.snapshotBytes()) == state)
    }

    @Test("event JSON embeds the data as posted")
    func eventJSON() throws {
        let event = ClusterEvent(seq: 3, index: 17, timeMillis: -5, data: json(#"{"k": [1, "x"]}"#))
        #expect(String(decoding: event.jsonBytes(), as: UTF8.self) == #"{"seq":3,"index":17,"time_ms":-5,"data":{"k": [1, "x"]}}"#)
        #expect(try event.jsonValue() == ["seq": 3, "index": 17, "time_ms": -5, "data": ["k": [1, "x"]]])
        let bom = ClusterEvent(seq: 1, index: 1, timeMillis: 0, data: [0xEF, 0xBB, 0xBF] + json("true"))
        let body = ClusterEvent.eventsResponseJSON(EventPage(events: [event, bom], firstSeq: 2, lastSeq: 9), since: 2)
        let parsed = try JSONValue.parse(body)
        #expect(parsed["first_seq"] == 2)
        #expect(parsed["last_seq"] == 9)
        #expect(parsed["next_since"] == 1)
        #expect(parsed["events"]?.arrayValue?.count == 2)
        #expect(parsed["events"]?.arrayValue?.last?["data"] == true)
        #expect(String(decoding: ClusterEvent.eventsResponseJSON(EventPage(events: [], firstSeq: 1, lastSeq: 0), since: 0), as: UTF8.self)
                == #"{"events":[],"first_seq":1,"last_seq":0,"next_since":0}"#)
    }

    // MARK: Snapshots

    @Test("a snapshot restores the same state, and sequence numbers continue densely")
    func snapshotRoundTrip() throws {
        let state = Self.populated()
        var restored = try ClusterState(snapshot: state.snapshotBytes())
        #expect(restored == state)
        #expect(restored.lastSeq == 5)
        #expect(restored.apply(.appendEvent(timeMillis: 1, data: json("6")), index: 100) == .eventAppended(seq: 6))
        #expect(restored.events.map(\.seq) == Array(1...6))
        #expect(try ClusterState(snapshot: ClusterState().snapshotBytes()) == ClusterState())
    }

    @Test("corrupt snapshots are refused with a clear error")
    func corruptSnapshots() throws {
        let bytes = Self.populated().snapshotBytes()
        #expect(snapshotError([])?.description
            == "cluster snapshot: truncated at byte 0 (field magic): needs 1 byte, only 0 remain")
        var magic = bytes
        magic[0] = UInt8(ascii: "X")
        #expect(snapshotError(magic)?.code == .corrupt)
        var version = bytes
        version[4] = 9
        #expect(snapshotError(version)?.description
            == "cluster snapshot: unsupported-version at byte 4 (field version): expected snapshot version 1 to 5, found 9")
        let truncated = Array(bytes.dropLast(10))
        #expect(snapshotError(truncated)?.description
            == "cluster snapshot: truncated at byte 5 (field bodyLength): header declares a \(bytes.count - 17)-byte body plus a 4-byte checksum, but \(bytes.count - 23) bytes follow the header")
        #expect(snapshotError(bytes + [0])?.code == .trailingBytes)
        var flipped = bytes
        flipped[40] ^= 0x01
        let checksum = snapshotError(flipped)
        #expect(checksum?.code == .corrupt)
        #expect(checksum?.field == "checksum")
        #expect(checksum?.description.contains("does not match") == true)
    }

    @Test("a snapshot with a consistent checksum but inconsistent content is refused")
    func inconsistentContent() throws {
        // Members out of order.
        var body = ClusterByteWriter()
        body.bool(false)
        body.u64(10)
        body.u32(2)
        member("n2").encode(into: &body, withKeyHash: false, withRoles: false, withGeneration: false)
        member("n1").encode(into: &body, withKeyHash: false, withRoles: false, withGeneration: false)
        body.u64(0)
        let unsorted = snapshotError(wrap(body.bytes))
        #expect(unsorted?.field == "members[1].id")
        #expect(unsorted?.message == "expected IDs in strictly ascending order, found n1 after n2")

        // An event index above the applied index.
        var events = ClusterByteWriter()
        events.bool(true)
        events.name("prod")
        events.u64(1)
        events.u64(4)
        events.u32(0)
        events.u64(1)
        events.u64(5)
        events.i64(0)
        events.blob(json("1"))
        let late = snapshotError(wrap(events.bytes))
        #expect(late?.description == "cluster snapshot: invalid-value at byte 47 (field events[seq 1].index): expected an index above 0 and at most the applied index 4, found 5")

        // Version 2: more events trimmed than entries applied.
        var trimmed = ClusterByteWriter()
        trimmed.bool(false)
        trimmed.u64(4)
        trimmed.u32(0)
        trimmed.u64(5)
        trimmed.u64(0)
        #expect(snapshotError(wrap(trimmed.bytes, version: 2))?.description
            == "cluster snapshot: invalid-value at byte 26 (field trimmedThrough): expected at most the applied index 4 (one event per entry), found 5")
    }

    @Test("version 1 and 2 snapshots (before trimming; before key hashes and idempotency keys) are still read")
    func olderSnapshotVersions() throws {
        let state = Self.populated()
        for version: UInt8 in [1, 2] {
            var body = ClusterByteWriter()
            body.bool(true)
            body.name("prod")
            body.u64(7)
            body.u64(state.appliedIndex)
            body.u32(UInt32(state.members.count))
            for member in state.sortedMembers { member.encode(into: &body, withKeyHash: false, withRoles: false, withGeneration: false) }
            if version == 2 { body.u64(0) }  // trimmedThrough
            body.u64(UInt64(state.events.count))
            for event in state.events {
                body.u64(event.index)
                body.i64(event.timeMillis)
                body.blob(event.data)
            }
            #expect(try ClusterState(snapshot: wrap(body.bytes, version: version)) == state, "version \(version)")
        }
    }

    // MARK: Idempotency keys

    @Test("a repeated idempotency key appends nothing and answers the first append's seq and index")
    func idempotentAppend() throws {
        var state = Self.populated()
        var index = state.appliedIndex
        func next() -> UInt64 { index += 1; return index }
        let first = next()
        #expect(state.apply(.appendEventOnce(timeMillis: 10_000, key: "retry-1", data: json("1")), index: first) == .eventAppended(seq: 6))
        #expect(state.apply(.appendEventOnce(timeMillis: 10_500, key: "retry-1", data: json("1")), index: next())
            == .eventDuplicate(seq: 6, index: first))
        #expect(state.apply(.appendEventOnce(timeMillis: 11_000, key: "retry-2", data: json("2")), index: next()) == .eventAppended(seq: 7))
        #expect(state.lastSeq == 7)
        #expect(state.idempotency.record(for: "retry-1")?.seq == 6)
        // The window is in the snapshot (format 3) and keeps answering after a restore.
        var restored = try ClusterState(snapshot: state.snapshotBytes())
        #expect(restored == state)
        #expect(restored.idempotency.count == 2)
        #expect(restored.apply(.appendEventOnce(timeMillis: 12_000, key: "retry-1", data: json("1")), index: next())
            == .eventDuplicate(seq: 6, index: first))
        // Trimming the event does not forget the key.
        _ = restored.apply(.trimEvents(through: 6), index: next())
        #expect(restored.apply(.appendEventOnce(timeMillis: 12_000, key: "retry-1", data: json("1")), index: next())
            == .eventDuplicate(seq: 6, index: first))
    }

    @Test("keys expire after an hour of the leaders' time, and beyond 10,000 keys")
    func idempotencyWindowBounds() {
        var state = ClusterState()
        var index: UInt64 = 0
        func next() -> UInt64 { index += 1; return index }
        _ = state.apply(.appendEventOnce(timeMillis: 0, key: "old", data: json("0")), index: next())
        #expect(state.apply(.appendEventOnce(timeMillis: IdempotencyWindow.maxAgeMillis, key: "old", data: json("0")), index: next())
            == .eventDuplicate(seq: 1, index: 1))
        // One millisecond past the hour: "old" has expired, so it appends again.
        #expect(state.apply(.appendEventOnce(timeMillis: IdempotencyWindow.maxAgeMillis + 1, key: "old", data: json("0")), index: next())
            == .eventAppended(seq: 2))
        var counted = ClusterState()
        for value in 0...IdempotencyWindow.maxKeys {
            _ = counted.apply(.appendEventOnce(timeMillis: 1, key: "k\(value)", data: json("1")), index: UInt64(value + 1))
        }
        #expect(counted.idempotency.count == IdempotencyWindow.maxKeys)
        #expect(counted.idempotency.record(for: "k0") == nil)
        _ = counted.apply(.appendEventOnce(timeMillis: 1, key: "last", data: json("1")), index: UInt64(IdempotencyWindow.maxKeys + 2))
        #expect(counted.idempotency.count == IdempotencyWindow.maxKeys)
        #expect(counted.idempotency.record(for: "k1") == nil)
        #expect(counted.idempotency.record(for: "k2")?.seq == 3)
        #expect(counted.idempotency.record(for: "last") != nil)
        #expect((try? ClusterState(snapshot: counted.snapshotBytes()))?.idempotency.count == IdempotencyWindow.maxKeys)
    }

    // MARK: Retention

    @Test("a trim drops the oldest events; sequence numbers, reads and byte counts stay right")
    func trimEvents() throws {
        var state = Self.populated()  // events 1…5, data {"n":k} (7 bytes each)
        #expect(state.eventBytes == 35)
        let index = state.appliedIndex
        #expect(state.apply(.trimEvents(through: 2), index: index + 1) == .eventsTrimmed(through: 2, count: 2))
        #expect(state.firstSeq == 3)
        #expect(state.lastSeq == 5)
        #expect(state.events.map(\.seq) == [3, 4, 5])
        #expect(state.eventBytes == 21)
        #expect(state.events(since: 0, limit: 10).map(\.seq) == [3, 4, 5])
        #expect(state.events(since: 1, limit: 10).map(\.seq) == [3, 4, 5])
        #expect(state.events(since: 3, limit: 1).map(\.seq) == [4])
        #expect(state.events(since: 5, limit: 10).isEmpty)
        // Already trimmed, or beyond the last event: ignored, nothing changes.
        let before = state.events
        guard case .ignored = state.apply(.trimEvents(through: 2), index: index + 2) else { Issue.record("trim through 2 again applied"); return }
        guard case .ignored = state.apply(.trimEvents(through: 6), index: index + 3) else { Issue.record("trim past the end applied"); return }
        #expect(state.events == before)
        // Appends continue the sequence; a trim of everything leaves an empty, consistent log.
        #expect(state.apply(.appendEvent(timeMillis: 0, data: json("[]")), index: index + 4) == .eventAppended(seq: 6))
        #expect(state.apply(.trimEvents(through: 6), index: index + 5) == .eventsTrimmed(through: 6, count: 4))
        #expect(state.events.isEmpty)
        #expect(state.eventBytes == 0)
        #expect(state.firstSeq == 7)
        #expect(state.lastSeq == 6)
        #expect(state.events(since: 0, limit: 10).isEmpty)
        // The trimmed state survives a snapshot and continues from there.
        var restored = try ClusterState(snapshot: state.snapshotBytes())
        #expect(restored == state)
        #expect(restored.apply(.appendEvent(timeMillis: 0, data: json("1")), index: index + 6) == .eventAppended(seq: 7))
        #expect(restored.events.map(\.seq) == [7])
    }

    @Test("the trim point honours the event count and the byte bound, whichever trims more")
    func trimPoint() {
        var state = ClusterState()
        for value in 1...10 {  // event k has k bytes: 1, 11, 111, … (JSON numbers)
            _ = state.apply(.appendEvent(timeMillis: 0, data: json(String(repeating: "1", count: value))), index: UInt64(value))
        }
        #expect(state.eventBytes == 55)
        #expect(state.trimPoint(maxEvents: 0, maxBytes: 0) == nil)
        #expect(state.trimPoint(maxEvents: 10, maxBytes: 55) == nil)
        #expect(state.trimPoint(maxEvents: 4, maxBytes: 0) == 6)
        #expect(state.trimPoint(maxEvents: 0, maxBytes: 19) == 8)   // 9 + 10 bytes remain
        #expect(state.trimPoint(maxEvents: 4, maxBytes: 19) == 8)
        #expect(state.trimPoint(maxEvents: 1, maxBytes: 50) == 9)
        #expect(state.trimPoint(maxEvents: 0, maxBytes: 5) == 10)  // even the newest is over the bound
        _ = state.apply(.trimEvents(through: 6), index: 11)
        #expect(state.trimPoint(maxEvents: 4, maxBytes: 0) == nil)
        #expect(state.trimPoint(maxEvents: 3, maxBytes: 0) == 7)
    }

    func snapshotError(_ bytes: [UInt8]) -> ClusterCodingError? {
        do {
            _ = try ClusterState(snapshot: bytes)
            return nil
        } catch {
            return error
        }
    }

    /// Frames `body` as a snapshot of `version` with a correct length and checksum.
    func wrap(_ body: [UInt8], version: UInt8 = 1) -> [UInt8] {
        var writer = ClusterByteWriter()
        writer.bytes = Array("DCSS".utf8)
        writer.u8(version)
        writer.u64(UInt64(body.count))
        writer.bytes += body
        writer.u32(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }
}
