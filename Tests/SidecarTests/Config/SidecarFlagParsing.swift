import DiscoCore
import Sidecar

// MARK: - Parsing the proxy flags as disco-sidecar does

/// The proxy flags parsed and checked as `disco-sidecar` does, for the configuration tests.
enum SidecarFlagParsing {
    /// A loader that sees no environment variables and no files.
    static let emptyLoader = DiscoConfigLoader(environment: { _ in nil }, readFile: { _ throws(ProcessEnvironment.FileError) in nil })

    /// The configuration `arguments` describe, or the flag error `disco-sidecar` would exit 2 with.
    static func configuration(_ arguments: [String], loader: DiscoConfigLoader = emptyLoader) throws(FlagError) -> ProxyConfiguration {
        var set = FlagSet(programName: "disco-sidecar", synopsis: "")
        let flags = SidecarFlags(&set)
        return try flags.configuration(try set.parse(arguments), loader: loader)
    }

    /// The flag error for `arguments`, or nil when they are accepted.
    static func failure(_ arguments: [String], loader: DiscoConfigLoader = emptyLoader) -> FlagError? {
        do throws(FlagError) {
            _ = try configuration(arguments, loader: loader)
            return nil
        } catch {
            return error
        }
    }
}
