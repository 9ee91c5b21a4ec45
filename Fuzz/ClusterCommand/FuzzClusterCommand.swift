// Fuzz entry point for the replicated cluster state's codecs: every input must decode as a
// command or be refused with an error, never crash; whatever decodes must re-encode to the same
// bytes (a version 1 command: to bytes that decode to the same command). The input is also read as a whole snapshot and, framed with a valid header and
// checksum, as a snapshot body of every readable version (so the fuzzer reaches past the
// checksum); a snapshot that restores must re-encode to a snapshot that restores to the same
// state, with consistent sequence numbers and byte counts (events and keys), also after a trim.
// A decoded key-value transaction applied to a restored state keeps the key-value counts right.
// The input read as an event's data yields the same type and target roles as its parsed form
// (valid, sorted role names), or none. A decoded member upsert is never replaced by one of a
// lower generation.
@_cdecl("LLVMFuzzerTestOneInput")
public func clusterCommandFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let command = try? ClusterCommand.decode(bytes) {
        guard let encoded = try? command.encode() else { fatalError("decoded command does not encode: \(command)") }
        if bytes.first == ClusterCommand.formatVersion, encoded != bytes { fatalError("command re-encodes differently: \(command)") }
        if (try? ClusterCommand.decode(encoded)) != command { fatalError("re-encoded command decodes differently: \(command)") }
        if case .kvTransaction = command {
            var state = ClusterState()
            _ = state.apply(command, index: 1)
            checkEvents(state)
        }
        if case .upsertMember(let member) = command { checkGeneration(member) }
    }
    checkEventTarget(bytes)
    checkSnapshot(bytes)
    for version in ClusterState.readableSnapshotVersions {
        checkSnapshot(framedSnapshot(body: bytes, version: version))
    }
    return 0
}

private func checkGeneration(_ member: ClusterMember) {
    guard member.generation > 0 else { return }
    var older = member
    older.generation -= 1
    older.raftAddress = member.raftAddress == "old:1" ? "old:2" : "old:1"
    var state = ClusterState()
    _ = state.apply(.upsertMember(member), index: 1)
    _ = state.apply(.upsertMember(older), index: 2)
    if state.members[member.id] != member { fatalError("an older generation replaced member \(member)") }
}

private func checkEventTarget(_ bytes: [UInt8]) {
    let target = EventTarget(eventData: bytes)
    if target.roles != RoleNames.normalized(target.roles) || RoleNames.problem(with: target.roles) != nil {
        fatalError("event target roles are not valid and sorted: \(target.roles)")
    }
    if let type = target.type, type.isEmpty || type.utf8.count > EventTarget.maxTypeBytes { fatalError("event type out of bounds") }
    guard let value = try? JSONValue.parse(bytes) else {
        if target != EventTarget() { fatalError("data that does not parse has a target") }
        return
    }
    if let parsed = try? EventTarget(event: value), parsed != target { fatalError("stored and posted targets differ") }
}

private func checkSnapshot(_ bytes: [UInt8]) {
    guard let state = try? ClusterState(snapshot: bytes) else { return }
    let encoded = state.snapshotBytes()
    if bytes[4] == ClusterState.snapshotVersion, encoded != bytes { fatalError("snapshot re-encodes differently") }
    if (try? ClusterState(snapshot: encoded)) != state { fatalError("snapshot round trip failed") }
    checkEvents(state)
    // Trimming half of the retained events keeps everything consistent.
    var trimmed = state
    if let through = state.trimPoint(maxEvents: state.events.count / 2, maxBytes: 0) {
        guard case .eventsTrimmed = trimmed.apply(.trimEvents(through: through), index: state.appliedIndex &+ 1) else {
            fatalError("trim through \(through) was not applied")
        }
        checkEvents(trimmed)
    }
}

private func checkEvents(_ state: ClusterState) {
    if state.lastSeq != state.trimmedThrough + UInt64(state.events.count)
        || state.events.enumerated().contains(where: { $0.element.seq != state.trimmedThrough + UInt64($0.offset + 1) }) {
        fatalError("sequence numbers are not dense from trimmedThrough + 1")
    }
    if state.eventBytes != state.events.reduce(0, { $0 + $1.data.count }) { fatalError("eventBytes is wrong") }
    if state.idempotency.count > IdempotencyWindow.maxKeys { fatalError("idempotency window over its bound") }
    let entries = state.keyValues.sortedEntries
    if entries.count != state.keyValues.count || state.keyValues.bytes != entries.reduce(0, { $0 + KVStore.size($1.key, $1.value) })
        || state.keyValues.bytes > KVLimits.maxBytes || entries.contains(where: { $0.revision > state.appliedIndex || $0.created > $0.revision }) {
        fatalError("key-value state is inconsistent")
    }
    for record in state.idempotency.live where record.seq > state.lastSeq || state.idempotency.record(for: record.key) != record {
        fatalError("idempotency record \(record.key) is inconsistent")
    }
}

/// `body` behind a snapshot header of `version`, followed by its CRC-32C.
private func framedSnapshot(body: [UInt8], version: UInt8) -> [UInt8] {
    var writer = ClusterByteWriter()
    writer.bytes = ClusterState.snapshotMagic
    writer.u8(version)
    writer.u64(UInt64(body.count))
    writer.bytes += body
    writer.u32(CRC32C.checksum(writer.bytes))
    return writer.bytes
}
