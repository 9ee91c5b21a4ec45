import DiscoCLI
import DiscoCore
import DiscoSystem
import DiscoDiscovery
import DiscoDNS
import DiscoNet

// MARK: - lookup and leader

/// Builds the discovery backends from the flags, or prints why not and returns exit status 2.
func makeDiscovery(_ context: CommandContext, _ flags: DiscoveryFlags, client: HTTPClient) -> Result<Discovery, ExitStatus> {
    let modeText = context.flags[flags.mode]
    guard let mode = DiscoMode(rawValue: modeText) else {
        let valid = DiscoMode.allCases.map(\.rawValue).joined(separator: ", ")
        let problem = modeText.isEmpty ? "-disco-mode is required" : "invalid value \(modeText.debugDescription) for flag -disco-mode"
        CommandLineTool.writeStandardError("discoctl: \(problem): expected one of \(valid)\n")
        return .failure(ExitStatus(2))
    }
    if let problem = DiscodOptions.discoKeyProblem(context.flags[flags.key]) {
        CommandLineTool.writeStandardError("discoctl: -disco-key: \(problem)\n")
        return .failure(ExitStatus(2))
    }
    let configText = context.flags[flags.config]
    let config: DiscoConfig
    do throws(ConfigError) {
        config = try DiscoConfigLoader.system.config(configText, mode: mode)
    } catch {
        CommandLineTool.writeStandardError(error.isAboutConsulEnvironment ? "discoctl: \(error)\n" : "discoctl: -disco-config: \(error)\n")
        return .failure(ExitStatus(2))
    }
    // A request may take all of -timeout, except where etcd's own limit (dial_timeout, default
    // 5 s) moves on to its next endpoint: a silent first endpoint must not use up the lookup.
    var transport: any HTTPExchanging = LookupTransport(base: client, timeout: context.timeout)
    if case .etcdKV(let etcd) = config, etcd.dialTimeout != nil || etcd.endpointURLs.count > 1 { transport = client }
    var discovery = Discovery(config: config, discoKey: context.flags[flags.key], defaultPort: flags.port.map { context.flags[$0] } ?? 4001,
                              transport: transport)
    // -timeout bounds the whole lookup (withinTimeout): DNS queries are retried every 2 s (or
    // every -timeout when shorter) until then, instead of giving up after 3 tries.
    let perTry = min(discovery.dnsOptions.timeoutPerTry, context.timeout)
    discovery.dnsOptions.timeoutPerTry = perTry
    discovery.dnsOptions.tries = min(1000, Int((context.timeout / perTry).rounded(.up)) + 1)
    discovery.systemResolverTimeout = context.timeout + .seconds(1)
    // Making the backends sends nothing; what they refuse (a nameserver that is not an
    // address, a TLS file that cannot be read) is the configuration's fault, as in discod -validate.
    do {
        _ = try discovery.addressProvider()
        _ = try discovery.leaderRegistry()
    } catch {
        CommandLineTool.writeStandardError("discoctl: -disco-config: \(error)\n")
        return .failure(ExitStatus(2))
    }
    return .success(discovery)
}

struct ExitStatus: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}

func leaderJSON(_ record: VersionedLeaderRecord?) -> JSONValue {
    guard let record else { return .null }
    return .object(JSONObject([
        .init(key: "id", value: .string(record.record.id)),
        .init(key: "api_addr", value: .string(record.record.apiAddr)),
        .init(key: "addr", value: .string(record.record.addr)),
        .init(key: "version", value: .number(JSONNumber(record.version))),
    ]))
}

func runLookup(_ context: CommandContext, _ flags: DiscoveryFlags) async -> Int32 {
    let client = context.client
    let discovery: Discovery
    switch makeDiscovery(context, flags, client: client) {
    case .success(let made): discovery = made
    case .failure(let status): return status.code
    }
    do {
        let provider = try discovery.addressProvider()
        let registry = try discovery.leaderRegistry()
        let answer = try await withinTimeout(context.timeout) { () async throws -> ([PeerAddress], VersionedLeaderRecord?) in
            (try await provider.lookup(), try await registry?.read())
        }
        guard let (addresses, leader) = answer else { return lookupTimedOut("lookup", provider.name, context.timeout) }
        if context.format == .json {
            var members: [JSONObject.Member] = [
                .init(key: "mode", value: .string(discovery.config.mode.rawValue)),
                .init(key: "source", value: .string(provider.name)),
                .init(key: "addresses", value: .array(addresses.map { .string($0.description) })),
            ]
            if discovery.config.mode.usesKeyValueStore { members.append(.init(key: "leader", value: leaderJSON(leader))) }
            printLine(JSONValue.object(JSONObject(members)).encoded())
        } else {
            for address in addresses { printLine("\(address)") }
            if discovery.config.mode.usesKeyValueStore {
                printLine(leader.map { "leader: \(leaderJSON($0).encoded())" } ?? "leader: none")
            }
        }
        if addresses.isEmpty { CommandLineTool.writeStandardError("discoctl lookup: \(provider.name) found no peers\n") }
        return addresses.isEmpty ? 1 : 0
    } catch let error as DiscoveryConfigurationError {
        CommandLineTool.writeStandardError("discoctl: -disco-config: \(error)\n")
        return 2
    } catch {
        CommandLineTool.writeStandardError("discoctl lookup: \(error)\n")
        return 1
    }
}

/// `discoctl leader -disco-mode consul-kv|etcd-kv`: the leader record in the key-value store.
func runLeader(_ context: CommandContext, _ flags: DiscoveryFlags) async -> Int32 {
    let client = context.client
    let discovery: Discovery
    switch makeDiscovery(context, flags, client: client) {
    case .success(let made): discovery = made
    case .failure(let status): return status.code
    }
    guard discovery.config.mode.usesKeyValueStore else {
        CommandLineTool.writeStandardError("discoctl leader: -disco-mode \(discovery.config.mode) keeps no leader record; "
            + "use consul-kv or etcd-kv, or leave out -disco-mode to ask the node at -addr\n")
        return 2
    }
    do {
        guard let registry = try discovery.leaderRegistry() else { return 2 }
        guard let answer = try await withinTimeout(context.timeout, { try await registry.read() }) else {
            return lookupTimedOut("leader", registry.name, context.timeout)
        }
        guard let record = answer else {
            CommandLineTool.writeStandardError("discoctl leader: no leader record\n")
            return 1
        }
        let text = context.format == .json ? leaderJSON(record).encoded()
            : "id: \(record.record.id)\napi_addr: \(record.record.apiAddr)\naddr: \(record.record.addr)"
        printLine(text)
        return 0
    } catch {
        CommandLineTool.writeStandardError("discoctl leader: \(error)\n")
        return 1
    }
}
