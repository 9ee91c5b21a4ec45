// libFuzzer entry point for everything discod reads from its command line: Go flags and
// durations, $VAR expansion and the per-mode disco-config decoders.
//
// Input layout: the bytes split on NUL become arguments for DiscodOptions.parse (with no file
// system and a fixed environment); the whole input is also tried as a duration, expanded, and
// decoded as a disco-config for every mode. Nothing may crash; errors must have text.

let environment: [String: String] = ["NAME": "disco.local", "PORT": "4001", "Q": "\""]
let loader = DiscoConfigLoader(environment: { environment[$0] }, readFile: { _ in nil })

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommandLine(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)

    // Flags.
    let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    do {
        let options = try DiscodOptions.parse(arguments, loader: loader)
        precondition(!options.dataDirectory.isEmpty, "accepted an empty data directory")
    } catch {
        precondition(!error.message.isEmpty, "empty flag error message")
    }

    // Durations: a parsed duration must format and parse back to the same value.
    if let nanoseconds = try? GoDuration.parseNanoseconds(text) {
        let formatted = GoDuration.format(nanoseconds: nanoseconds)
        if nanoseconds != Int64.min {
            precondition((try? GoDuration.parseNanoseconds(formatted)) == nanoseconds, "duration \(formatted) does not round-trip")
        }
    }

    // Expansion never grows without variables.
    let expanded = EnvironmentExpansion.expand(text) { _ in nil }
    precondition(expanded.utf8.count <= text.utf8.count, "expansion with no variables grew the text")
    // Requiring variables to be set changes nothing but refusing: what it expands, Go's rules expand alike.
    do {
        let strict = try EnvironmentExpansion.expandRequiringSet(text) { environment[$0] }
        precondition(strict == EnvironmentExpansion.expand(text) { environment[$0] }, "the two expansions differ")
    } catch {
        precondition(error.offset >= 0 && error.offset < text.utf8.count && !error.message.isEmpty, "bad expansion error \(error)")
    }

    // Interspersed flags (discoctl's way): positionals keep their order, nothing crashes.
    if let parsed = try? DiscodFlags().flagSet.parse(arguments, interspersed: true) {
        precondition(parsed.positionals.count <= arguments.count, "more positionals than arguments")
    }

    // disco-config decoding for every mode.
    for mode in DiscoMode.allCases {
        do {
            _ = try loader.load(text, mode: mode)
        } catch {
            precondition(!error.message.isEmpty, "empty config error message")
        }
    }
    return 0
}
