// libFuzzer entry point for the -hot-cold flags and the /readyz `hot` query parameter.
//
// The input, split on NUL, is a command line parsed with the hot/cold flags declared; the whole
// input is also read as a query string. Parsing must never crash; a refused command line must
// say why and name a flag (or the syntax); an accepted one must validate again as it is; the
// query must give yes, no or an error with text.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHotColdFlags(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
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
    return 0
}
