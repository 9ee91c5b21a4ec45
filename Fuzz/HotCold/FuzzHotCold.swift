// libFuzzer entry point for what hot/cold parses: the -hot-cold flags, the /readyz `hot` query
// parameter, and the lease and candidacy records a key-value store holds.
//
// The input, split on NUL, is a command line parsed with the hot/cold flags declared; the whole
// input is also read as a query string and as both kinds of record. Parsing must never crash; a
// refused command line or record must say why; an accepted configuration must validate again as
// it is; an accepted record must encode to bytes that decode to the same value.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHotCold(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }

    var flags = FlagSet(programName: "disco-sidecar", synopsis: "Usage: disco-sidecar [flags]")
    let hotCold = HotColdFlags(declaringIn: &flags)
    do {
        if let configuration = try hotCold.configuration(from: try flags.parse(arguments)) {
            do {
                try configuration.validate()
            } catch {
                fatalError("an accepted configuration fails validation: \(error)")
            }
            precondition(configuration.lease.renewDeadline < configuration.lease.renewDeadlineLimit, "unsafe lease settings accepted")
        }
    } catch {
        precondition(!error.message.isEmpty, "empty flag error")
    }

    switch HotColdAPI.asksForHot(query: String(decoding: bytes, as: UTF8.self)) {
    case .success: break
    case .failure(let error): precondition(error.message.contains("hot="), "a query error that does not name the parameter")
    }

    do {
        let state = try LeaseRecord.decodeState(bytes)
        guard (try? LeaseRecord.decodeState(LeaseRecord.encode(state))) == state else {
            fatalError("lease record \(state) does not survive encoding")
        }
    } catch {
        precondition(!error.message.isEmpty, "empty lease record error")
    }
    do {
        let candidate = try LeaseRecord.decodeCandidate(bytes, node: "fuzz")
        guard (try? LeaseRecord.decodeCandidate(LeaseRecord.encode(candidate), node: "fuzz")) == candidate else {
            fatalError("candidacy \(candidate) does not survive encoding")
        }
    } catch {
        precondition(!error.message.isEmpty, "empty candidacy error")
    }
    return 0
}
