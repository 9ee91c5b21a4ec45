// MARK: - DiscoMode

/// How a node finds its peers (`-disco-mode`).
public enum DiscoMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A/AAAA records of a name.
    case dns
    /// SRV records.
    case dnsSRV = "dns-srv"
    /// A leader record in Consul's KV store.
    case consulKV = "consul-kv"
    /// A leader record in etcd.
    case etcdKV = "etcd-kv"

    public var description: String { rawValue }

    /// Whether the mode uses a KV store (no `-bootstrap-expect`).
    public var usesKeyValueStore: Bool { self == .consulKV || self == .etcdKV }
}

// MARK: - DiscoConfig

/// A validated disco-config for one mode.
public enum DiscoConfig: Sendable, Hashable {
    case dns(DNSConfig)
    case dnsSRV(DNSSRVConfig)
    case consulKV(ConsulKVConfig)
    case etcdKV(EtcdKVConfig)

    public var mode: DiscoMode {
        switch self {
        case .dns: .dns
        case .dnsSRV: .dnsSRV
        case .consulKV: .consulKV
        case .etcdKV: .etcdKV
        }
    }

    /// Decodes `json` strictly for `mode`. `nil` (no `-disco-config`) gives the mode's defaults;
    /// dns and dns-srv have none (a name is required).
    public static func decode(mode: DiscoMode, json: JSONValue?) throws(ConfigError) -> DiscoConfig {
        switch mode {
        case .dns:
            guard let json else { throw missing(mode, example: #"{"name":"disco.local"}"#) }
            return .dns(try DNSConfig(json: json))
        case .dnsSRV:
            guard let json else { throw missing(mode, example: #"{"name":"disco.local","service":"disco-http"}"#) }
            return .dnsSRV(try DNSSRVConfig(json: json))
        case .consulKV:
            guard let json else { return .consulKV(ConsulKVConfig()) }
            return .consulKV(try ConsulKVConfig(json: json))
        case .etcdKV:
            guard let json else { return .etcdKV(EtcdKVConfig()) }
            return .etcdKV(try EtcdKVConfig(json: json))
        }
    }

    static func missing(_ mode: DiscoMode, example: String) -> ConfigError {
        ConfigError(code: .missingField, field: "name",
                          message: "disco mode \(mode) needs -disco-config with at least a \"name\", e.g. -disco-config '\(example)'")
    }
}

// MARK: - Loading

/// Reads the text of `-disco-config`: a path to a JSON file if such a file exists, otherwise the
/// JSON itself. `$VAR`/`${VAR}` are then expanded in the text (``EnvironmentExpansion``, Go's
/// `os.ExpandEnv` syntax, but a variable that is not set is an error where rqlite expands it to
/// nothing) and it is parsed strictly.
///
/// The loader only reads through the two closures it is given; `DiscoConfigLoader.system`
/// (DiscoSystem) reads the process environment and the real file system.
public struct DiscoConfigLoader: Sendable {
    /// Environment lookup (`nil` = unset).
    public var environment: @Sendable (String) -> String?
    /// File reader: `nil` when no such file.
    public var readFile: @Sendable (String) throws(ProcessEnvironment.FileError) -> [UInt8]?

    public init(
        environment: @escaping @Sendable (String) -> String?,
        readFile: @escaping @Sendable (String) throws(ProcessEnvironment.FileError) -> [UInt8]?
    ) {
        self.environment = environment
        self.readFile = readFile
    }

    /// Loads, expands and parses the flag value into JSON. `name` is how messages call the value
    /// (`disco-config`; `-proxy-config` for the sidecar's), so they point at the flag to fix.
    public func loadJSON(_ flagValue: String, name: String = "disco-config") throws(ConfigError) -> JSONValue {
        let fileBytes: [UInt8]?
        do throws(ProcessEnvironment.FileError) {
            fileBytes = try readFile(flagValue)
        } catch {
            throw ConfigError(code: .unreadable, field: nil, message: "\(name) file: \(error)")
        }
        let origin = fileBytes == nil ? name : "\(name) file \(flagValue.debugDescription)"
        let original = fileBytes.map { String(decoding: $0, as: UTF8.self) } ?? flagValue
        if let fileBytes, !original.utf8.elementsEqual(fileBytes) {
            // Not UTF-8: let the parser point at the first bad byte.
            do throws(JSONParseError) {
                _ = try JSONValue.parse(fileBytes)
            } catch {
                throw ConfigError(code: .syntax, field: nil, message: "\(origin) is not valid JSON: \(error)", syntax: error)
            }
        }
        let expanded: String
        do throws(EnvironmentExpansionError) {
            expanded = try EnvironmentExpansion.expandRequiringSet(original, lookup: environment)
        } catch {
            throw ConfigError(code: .unsetVariable, field: nil, message: "\(origin): \(error)")
        }
        do throws(JSONParseError) {
            return try JSONValue.parse(expanded)
        } catch {
            // Hints about shell quoting fit a value given on the command line, not a file's contents.
            let described = fileBytes == nil ? error.descriptionWithHint : error.description
            var message = "\(origin) is not valid JSON: \(described)"
            if expanded != original { message += " (positions refer to the text after $VAR expansion)" }
            if fileBytes == nil, looksLikePath(flagValue) {
                message = "\(name): no file named \(flagValue.debugDescription), and the value is not JSON either: \(described)"
            }
            throw ConfigError(code: .syntax, field: nil, message: message, syntax: error)
        }
    }

    /// Loads and decodes the config for `mode`.
    public func load(_ flagValue: String, mode: DiscoMode) throws(ConfigError) -> DiscoConfig {
        try DiscoConfig.decode(mode: mode, json: try loadJSON(flagValue))
    }

    /// The config a node uses for `mode`: `-disco-config`'s value (empty: the mode's defaults)
    /// loaded and decoded, with what consul-kv leaves out taken from Consul's `CONSUL_*`
    /// environment variables (``ConsulKVConfig/applyingEnvironment(_:)``), as rqlite's Consul
    /// client does.
    public func config(_ flagValue: String, mode: DiscoMode) throws(ConfigError) -> DiscoConfig {
        let config = flagValue.isEmpty ? try DiscoConfig.decode(mode: mode, json: nil) : try load(flagValue, mode: mode)
        guard case .consulKV(let consul) = config else { return config }
        return .consulKV(try consul.applyingEnvironment(environment))
    }

    func looksLikePath(_ value: String) -> Bool {
        guard let first = value.first, first != "{", first != "[", first != "'", first != "\"" else { return false }
        return value.hasSuffix(".json") || value.contains("/")
    }
}
