import DiscoCLI
import DiscoCore
import DiscoLifecycle
import DiscoNet
import DiscoSystem
import HotCold
import HotColdNode
import NodeRuntime
import Sidecar
import SidecarProxy

// disco-sidecar [node flags] [proxy flags] <data-dir>: a full node (every discod flag, the same
// formation, API and data directory, run by DiscoCLI's NodeCommand) plus a proxy in front of the
// local service, run as a service of the node's group. Everything is parsed and checked before
// the data directory is touched; -validate stops after the checks.
var flags = DiscodFlags(programName: "disco-sidecar", synopsis: """
    Usage: disco-sidecar [flags] <data-dir>

    Runs a Disco node (every discod flag) with a proxy in front of the local service: reads go to
    -upstream, writes to the writer's (the Raft leader's sidecar), with rate limits, API keys,
    WebSocket and TCP pass-through. With -hot-cold the writer is the group's hot replica instead,
    and requests to its upstream carry Disco-Fencing-Token. All flags come before the data directory.

    Example:
      disco-sidecar -node-id $POD_NAME -http-addr $POD_IP:4001 -raft-addr $POD_IP:4002 \\
        -disco-mode dns-srv -disco-config '{"name":"app-hs","service":"disco"}' -bootstrap-expect 3 \\
        -proxy-addr :8080 -upstream http://127.0.0.1:9984 data
    """)
let proxyFlags = SidecarFlags(&flags.flagSet)
let hotColdFlags = HotColdFlags(declaringIn: &flags.flagSet)
let (options, setup) = NodeCommand(flags: flags).parse(Array(CommandLine.arguments.dropFirst())) { parsed throws(FlagError) in
    var configuration = try proxyFlags.configuration(parsed, loader: .system)
    // Names resolved once, now, as the proxy will to connect: an upstream that is one of its own
    // listeners under another name or address (localhost, 127.1, this pod's address) is refused too.
    try proxyFlags.checkListeners(configuration, parsed: parsed, nodeListeners: flags.nodeListeners(parsed), selfConnections: .resolving())
    let keys = try SidecarKeys.load(configuration.apiKeys)
    let hopKey = try configuration.hopKeyFile.map { path throws(FlagError) in try HopKey.load(path) }
    // The proxy presents the API's certificate and trusts the API's CAs unless it has its own.
    func file(_ flag: Flag<String>) -> String? { parsed[flag].isEmpty ? nil : parsed[flag] }
    configuration.applyNodeTLSDefaults(httpCertificate: file(flags.httpCert), httpKey: file(flags.httpKey),
                                       httpCACertificate: file(flags.httpCACert))
    // Certificates, keys and CAs are opened now, so -validate and a start name a file that cannot be used;
    // -validate also warns, as a start would, about a certificate that has expired or is not valid yet.
    do throws(ProxyTLSError) {
        try ProxyTLS.check(configuration, logger: flags.validationLogger(parsed, label: "tls"))
    } catch {
        throw FlagError(code: .invalidValue, flag: error.flag, message: error.description)
    }
    var hotCold = try hotColdFlags.configuration(from: parsed)
    // A graceful hand-over waits for the hot's writes in flight within the proxy's drain timeout.
    hotCold?.drainTimeout = configuration.drainTimeout
    if let hotCold {
        guard configuration.listenAddress != nil else {
            throw FlagError.conflict("hot-cold", "-hot-cold routes HTTP writes to the hot replica, so it needs -proxy-addr "
                + "(and -upstream): add them, or drop -hot-cold")
        }
        configuration.routes = HotColdRouting.routes(configuration, coldReads: hotCold.coldReads)
    }
    return (configuration, keys, hotCold, hopKey)
} summary: { setup in
    // -validate: after the node's settings, once every check (the node's certificates too) has passed.
    SidecarSummary.lines(setup.0) + SidecarSummary.lines(setup.2)
}
let proxyConfiguration = setup.0
let keys = setup.1
let hotColdRole = setup.2.map { HotColdRole(configuration: $0) }

let role = SidecarRole(configuration: proxyConfiguration, fileKeys: keys, apiHost: options.httpAdvertisedAddress.host, hotCold: hotColdRole,
                       hopKey: setup.3)
await NodeCommand(flags: flags, additionalShutdownGrace: proxyConfiguration.drainTimeout)
    .run(options, roles: [role] + (hotColdRole.map { [$0] } ?? []))
