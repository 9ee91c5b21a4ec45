import DiscoAuth
import DiscoCore
import DiscoNet
import DiscoSystem
import Dispatch
import NodeRuntime
import Sidecar
import SidecarProxy

// disco-sidecar [node flags] [proxy flags] <data-dir>: a full node (every discod flag, the same
// formation, API and data directory) plus a proxy in front of the local service. Everything is
// parsed and checked before the data directory is touched; -validate stops after the checks.
let nodeFlags = DiscodFlags()
var proxySet = FlagSet(programName: "disco-sidecar", synopsis: """
    Usage: disco-sidecar [flags] <data-dir>

    Runs a Disco node (every discod flag, below) with a proxy in front of the local service:
    reads go to -upstream, writes to the writer's (the Raft leader's sidecar), with rate limits,
    API keys, WebSocket and TCP pass-through. All flags come before the data directory.

    Example:
      disco-sidecar -node-id $POD_NAME -http-addr $POD_IP:4001 -raft-addr $POD_IP:4002 \\
        -disco-mode dns-srv -disco-config '{"name":"app-hs","service":"disco"}' -bootstrap-expect 3 \\
        -proxy-addr :8080 -upstream http://127.0.0.1:9984 data
    """)
let proxyFlags = SidecarFlags(&proxySet)
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains(where: { ["-h", "-help", "--help", "--h"].contains($0) }) {
    CommandLineTool.writeStandardOutput(proxySet.usage() + "\n" + nodeFlags.flagSet.usage())
    CommandLineTool.exit(0)
}
let split = SidecarArguments.split(arguments, proxy: proxySet, node: nodeFlags.flagSet)

let options: DiscodOptions
var proxyConfiguration: ProxyConfiguration
do {
    options = try DiscodOptions.parse(split.node, loader: .system)
    try StartupCheck.check(options)
} catch {
    CommandLineTool.fail(error, flagSet: nodeFlags.flagSet)
}
do {
    proxyConfiguration = try proxyFlags.configuration(try proxySet.parse(split.proxy), loader: .system)
} catch {
    CommandLineTool.fail(error, flagSet: proxySet)
}
// Keys for -api-keys, until the cluster keeps them: read and checked before anything starts.
var keyStore = InMemoryAPIKeyStore()
if let path = proxyConfiguration.apiKeys.file {
    guard proxyConfiguration.apiKeys.enabled else {
        CommandLineTool.fail(FlagError.conflict("api-key-file", "-api-key-file is only read with -api-keys"), flagSet: proxySet)
    }
    do {
        guard let bytes = try ProcessEnvironment.readFileIfExists(path, limit: 64 << 20) else {
            CommandLineTool.fail(FlagError(code: .invalidValue, flag: "api-key-file", message: "-api-key-file \(path.debugDescription): no such file"),
                                 flagSet: proxySet)
        }
        keyStore = InMemoryAPIKeyStore(file: try APIKeyFile.parse(bytes, path: path))
    } catch let error as ConfigError {
        CommandLineTool.fail(FlagError(code: .invalidValue, flag: "api-key-file", message: error.message), flagSet: proxySet)
    } catch {
        CommandLineTool.fail(FlagError(code: .invalidValue, flag: "api-key-file", message: "-api-key-file \(path.debugDescription): \(error)"),
                             flagSet: proxySet)
    }
}
// The proxy presents the API's certificate unless it has its own.
if proxyConfiguration.tls == nil, let certificate = options.httpTLS.certificate, let key = options.httpTLS.key {
    proxyConfiguration.tls = ProxyTLSFiles(certificate: certificate, key: key)
}

let logger = Logger(label: "disco-sidecar", level: options.logLevel, handler: options.logFormat.handler())
var settings = NodeSettings(options: options, logger: logger)
do {
    settings.tls = try NodeTLS.load(options, logger: logger)
    try NodeTLS.checkDiscoveryFiles(options)
} catch let error as NodeTLSError {
    CommandLineTool.writeStandardError("disco-sidecar: \(error)\n")
    CommandLineTool.exit(2)
} catch {
    CommandLineTool.writeStandardError("disco-sidecar: invalid value for flag -disco-config: \(error)\n")
    CommandLineTool.exit(2)
}
if options.validateOnly {
    let nodeSummary = StartupCheck.summary(options).replacing("discod: configuration is valid", with: "disco-sidecar: configuration is valid", maxReplacements: 1)
    CommandLineTool.writeStandardOutput(nodeSummary + SidecarSummary.lines(proxyConfiguration))
    CommandLineTool.exit(0)
}
logger.info("starting", metadata: options.metadata)

let node: Node
do {
    node = try await Node.start(settings)
} catch {
    CommandLineTool.writeStandardError("disco-sidecar: \(error)\n")
    CommandLineTool.exit(1)
}

let writer = LeaderWriterResolver(
    nodeAPI: node.apiAddress.description, nodeID: node.id.rawValue, proxyPort: proxyConfiguration.listenAddress?.port ?? 0,
    https: options.httpTLS.certificate != nil, caFile: options.httpTLS.caCertificate,
    credentials: CredentialStore.authorization(for: options.joinAs))
let proxy: SidecarProxyServer
do {
    proxy = try await SidecarProxyServer.start(configuration: proxyConfiguration, nodeID: node.id.rawValue, writer: writer,
                                               keys: keyStore, logger: logger, background: [{ await writer.run() }])
} catch {
    logger.error("the proxy cannot start: \(error)")
    CommandLineTool.writeStandardError("disco-sidecar: the proxy cannot start: \(error)\n")
    await node.shutdown(exitStatus: 1)
    CommandLineTool.exit(1)
}

let stopping = StopTask()
let signalSources = SidecarSignals.install(node: node, proxy: proxy, drain: proxyConfiguration.drainTimeout, logger: logger, stopping: stopping)
let status = await node.waitUntilStopped()
await stopping.wait()
await proxy.shutdown()
signalSources.forEach { $0.cancel() }
CommandLineTool.exit(status)
