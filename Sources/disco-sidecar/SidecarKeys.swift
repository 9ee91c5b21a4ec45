import DiscoCore
import DiscoSystem
import Sidecar
import SidecarProxy

// MARK: - Keys for -api-keys

/// Reads `-api-key-file` before anything starts: a missing or bad file is a configuration error
/// (exit 2) that names the file, the entry and the field.
enum SidecarKeys {
    /// The keys of `-api-key-file`, or nil without one (the cluster's replicated keys are used).
    static func load(_ settings: APIKeySettings) throws(FlagError) -> InMemoryAPIKeyStore? {
        guard let path = settings.file else { return nil }
        guard settings.enabled else { throw FlagError.conflict("api-key-file", "-api-key-file is only read with -api-keys") }
        let bytes = try ProcessEnvironment.readFlagFile(path, flag: "api-key-file", limit: 64 << 20)
        do throws(ConfigError) {
            return InMemoryAPIKeyStore(file: try APIKeyFile.parse(bytes, path: path))
        } catch {
            throw FlagError(code: .invalidValue, flag: "api-key-file", message: error.message)
        }
    }
}
