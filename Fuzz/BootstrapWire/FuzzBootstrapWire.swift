// libFuzzer entry point for the formation wire (BootstrapWire).
//
// The first byte picks a decoder, the rest is the body. Every input must either be rejected with
// a BootstrapWireError that names what is wrong (never a crash), or decode to a value that
// encodes to a body which decodes back to the same value.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBootstrapWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let selector = data[0] % 9
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    do {
        switch selector {
        case 0:
            let value = try BootstrapWire.decodeNotifyRequest(body)
            check(try BootstrapWire.decodeNotifyRequest(BootstrapWire.encode(value)) == value, "notify", body)
        case 1:
            let value = try BootstrapWire.decodeNotifyReply(status: 200, body: body)
            let (status, encoded) = BootstrapWire.encode(value)
            check(try BootstrapWire.decodeNotifyReply(status: status, body: encoded) == value, "notify reply", body)
        case 2:
            let value = try BootstrapWire.decodeProposal(body)
            check(try BootstrapWire.decodeProposal(BootstrapWire.encode(value)) == value, "proposal", body)
        case 3:
            let value = try BootstrapWire.decodeProposalReply(status: 200, body: body)
            let (status, encoded) = BootstrapWire.encode(value)
            check(try BootstrapWire.decodeProposalReply(status: status, body: encoded) == value, "proposal reply", body)
        case 4:
            let value = try BootstrapWire.decodeAbandon(body)
            check(try BootstrapWire.decodeAbandon(BootstrapWire.encodeAbandon(value)) == value, "abandon", body)
        case 5:
            let value = try BootstrapWire.decodeStatusQuery(String(decoding: body, as: UTF8.self))
            check(try BootstrapWire.decodeStatusQuery(BootstrapWire.statusQuery(value)) == value, "status query", body)
        case 6:
            let value = try BootstrapWire.decodeStatus(status: 200, body: body)
            check(try BootstrapWire.decodeStatus(status: 200, body: BootstrapWire.encode(value)) == value, "status", body)
        case 7:
            let value = try BootstrapWire.decodeJoinRequest(body)
            check(try BootstrapWire.decodeJoinRequest(BootstrapWire.encode(value)) == value, "join request", body)
        default:
            let value = try BootstrapWire.decodeJoinAccepted(body)
            check(try BootstrapWire.decodeJoinAccepted(BootstrapWire.encode(value)) == value, "join accepted", body)
            if let leader = BootstrapWire.decodeLeader(in: BootstrapWire.notLeaderBody(value.leader)) {
                check(leader == value.leader, "not-leader body", body)
            } else {
                check(false, "not-leader body", body)
            }
        }
    } catch {
        // Rejections must say something.
        precondition(!error.message.isEmpty, "empty error message")
    }
    _ = BootstrapWire.errorMessage(in: body)
    return 0
}

func check(_ condition: Bool, _ what: String, _ body: [UInt8]) {
    precondition(condition, "\(what) did not survive a round trip: \(String(decoding: body, as: UTF8.self))")
}
