import DiscoCore

// MARK: - Messages

extension RaftCodec {
    private enum MessageType: UInt8 {
        case preVote = 1, preVoteResponse, vote, voteResponse, append, appendResponse
        case heartbeat, heartbeatResponse, installSnapshot, timeoutNow, removed
    }

    /// Encodes a message as a frame payload: version, type, from, to, term, then the body.
    public static func encode(_ message: Message) -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(version)
        writer.u8(type(of: message.body).rawValue)
        writer.nodeID(message.from)
        writer.nodeID(message.to)
        writer.u64(message.term)
        switch message.body {
        case .preVote(let lastIndex, let lastTerm):
            writer.u64(lastIndex)
            writer.u64(lastTerm)
        case .vote(let lastIndex, let lastTerm, let transfer):
            writer.u64(lastIndex)
            writer.u64(lastTerm)
            writer.bool(transfer)
        case .preVoteResponse(let granted), .voteResponse(let granted):
            writer.bool(granted)
        case .append(let request):
            writer.u64(request.prevIndex)
            writer.u64(request.prevTerm)
            writer.u64(request.commit)
            writer.u32(UInt32(request.entries.count))
            for entry in request.entries { write(entry, to: &writer) }
        case .appendResponse(let response):
            writer.bool(response.accepted)
            writer.u64(response.index)
            writer.u64(response.conflictTerm)
            writer.u64(response.conflictIndex)
        case .heartbeat(let commit, let context):
            writer.u64(commit)
            writer.u64(context)
        case .heartbeatResponse(let context):
            writer.u64(context)
        case .installSnapshot(let snapshot):
            write(snapshot.metadata, to: &writer)
            writer.blob(snapshot.data)
        case .timeoutNow:
            break
        case .removed(let configIndex):
            writer.u64(configIndex)
        }
        return writer.bytes
    }

    private static func type(of body: MessageBody) -> MessageType {
        switch body {
        case .preVote: .preVote
        case .preVoteResponse: .preVoteResponse
        case .vote: .vote
        case .voteResponse: .voteResponse
        case .append: .append
        case .appendResponse: .appendResponse
        case .heartbeat: .heartbeat
        case .heartbeatResponse: .heartbeatResponse
        case .installSnapshot: .installSnapshot
        case .timeoutNow: .timeoutNow
        case .removed: .removed
        }
    }

    /// Decodes a frame payload written by ``encode(_:)-(Message)``, or explains what is wrong.
    public static func decodeMessage(_ bytes: [UInt8]) throws(RaftError) -> Message {
        var reader = ByteReader(bytes)
        let foundVersion = try reader.u8("version")
        guard foundVersion == version else {
            throw RaftError(.malformedFrame, "version at byte 0: unsupported message format version \(foundVersion), expected \(version)")
        }
        let rawType = try reader.u8("message type")
        guard let messageType = MessageType(rawValue: rawType) else {
            throw RaftError(.malformedFrame, "message type at byte 1: unknown type \(rawType), expected 1...11")
        }
        let from = try reader.nodeID("from")
        let to = try reader.nodeID("to")
        let term = try reader.u64("term")
        let body: MessageBody
        switch messageType {
        case .preVote:
            body = .preVote(lastIndex: try reader.u64("last index"), lastTerm: try reader.u64("last term"))
        case .vote:
            body = .vote(lastIndex: try reader.u64("last index"), lastTerm: try reader.u64("last term"),
                         transfer: try reader.bool("transfer"))
        case .preVoteResponse:
            body = .preVoteResponse(granted: try reader.bool("granted"))
        case .voteResponse:
            body = .voteResponse(granted: try reader.bool("granted"))
        case .append:
            let prevIndex = try reader.u64("prev index")
            let prevTerm = try reader.u64("prev term")
            let commit = try reader.u64("commit")
            let count = try reader.count("entry count", minimumItemSize: 21, limit: maxEntriesPerMessage)
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count { entries.append(try readEntry(&reader)) }
            body = .append(AppendRequest(prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: commit))
        case .appendResponse:
            body = .appendResponse(AppendResponse(
                accepted: try reader.bool("accepted"), index: try reader.u64("index"),
                conflictTerm: try reader.u64("conflict term"), conflictIndex: try reader.u64("conflict index")))
        case .heartbeat:
            body = .heartbeat(commit: try reader.u64("commit"), context: try reader.u64("context"))
        case .heartbeatResponse:
            body = .heartbeatResponse(context: try reader.u64("context"))
        case .installSnapshot:
            let meta = try readSnapshotMetadata(&reader)
            body = .installSnapshot(Snapshot(metadata: meta, data: try reader.blob("snapshot data", limit: maxSnapshotSize)))
        case .timeoutNow:
            body = .timeoutNow
        case .removed:
            body = .removed(configIndex: try reader.u64("config index"))
        }
        try reader.expectEnd("message")
        return Message(from: from, to: to, term: term, body: body)
    }
}
