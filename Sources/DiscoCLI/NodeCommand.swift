import DiscoCore
import DiscoLifecycle
import DiscoSystem
import DiscoNet
import NodeRuntime
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - NodeCommand

/// A program that runs a node: `discod`, and `disco-sidecar` with its own flags and services.
/// It parses and checks the command line before touching the data directory (exit 2 on a bad
/// one, 0 after `-h` or `-validate`), starts the node (exit 1 when it cannot), and runs it with
/// the program's other services under one ``ServiceGroup``: SIGTERM or SIGINT stops them
/// gracefully in reverse order (the program's services before the node), a second one cancels,
/// and a stop that overruns the node's grace period ends the process with status 1. SIGHUP
/// reloads what may change (``Node/reload()``).
///
/// ```swift
/// let command = NodeCommand()
/// let (options, _) = command.parse(Array(CommandLine.arguments.dropFirst()))
/// await command.run(options)
/// ```
public struct NodeCommand: Sendable {
    public var flags: DiscodFlags
    /// Time the program's own services and roles may take to stop gracefully (a proxy draining
    /// its requests), added to the node's grace period before a stop counts as overrun.
    public var additionalShutdownGrace: Duration

    public init(flags: DiscodFlags = DiscodFlags(), additionalShutdownGrace: Duration = .zero) {
        self.flags = flags
        self.additionalShutdownGrace = additionalShutdownGrace
    }

    var programName: String { flags.flagSet.programName }

    // MARK: Parsing

    /// Parses and checks `arguments` (without the program name); `check` reads the program's own
    /// flags from the parse. On an error it prints it and exits 2; `-h` prints the usage and
    /// exits 0; `-validate` prints the resolved settings, then `summary` of what `check` returned
    /// (once every check has passed), and exits 0.
    public func parse<Extra>(_ arguments: [String], loader: DiscoConfigLoader = .system,
                             check: (ParsedFlags) throws(FlagError) -> Extra,
                             summary: (Extra) -> String = { _ in "" }) -> (options: DiscodOptions, extra: Extra) {
        var options: DiscodOptions
        let extra: Extra
        do throws(FlagError) {
            let parsed = try flags.flagSet.parse(arguments)
            options = try DiscodOptions(flags: flags, parsed: parsed, loader: loader)
            try StartupCheck.check(options)
            extra = try check(parsed)
        } catch {
            CommandLineTool.fail(error, flagSet: flags.flagSet)
        }
        // Certificates and keys are read and checked before the data directory is touched: a file
        // that cannot be used is a configuration error (exit 2) that names the flag and the file.
        let logger = Logger(label: programName, level: options.logLevel, handler: options.logFormat.handler())
        do {
            options.loadedTLS = try NodeTLS.load(options.nodeConfiguration.tls, logger: logger)
            try NodeTLS.checkDiscoveryFiles(options.discoConfig)
        } catch let error as NodeTLSError {
            CommandLineTool.writeStandardError("\(programName): \(error)\n")
            CommandLineTool.exit(2)
        } catch {
            CommandLineTool.writeStandardError("\(programName): invalid value for flag -disco-config: \(error)\n")
            CommandLineTool.exit(2)
        }
        if options.validateOnly {
            CommandLineTool.writeStandardOutput(StartupCheck.summary(options, program: programName) + summary(extra))
            CommandLineTool.exit(0)
        }
        return (options, extra)
    }

    /// ``parse(_:loader:check:)`` for a program with no flags of its own.
    public func parse(_ arguments: [String], loader: DiscoConfigLoader = .system) -> (options: DiscodOptions, extra: Void) {
        parse(arguments, loader: loader) { _ throws(FlagError) in () }
    }

    // MARK: Running

    /// Starts the node and runs it, with the services `makeServices` returns for it (started
    /// after the node, stopped before it), until a signal stops them or the node fails. Ends the
    /// process: 0 after a graceful stop, the node's status when it failed, 1 otherwise.
    /// `roles` run inside the node (see ``Role``): their routes, metrics, status and readiness
    /// join the node's API.
    public func run(_ options: DiscodOptions, roles: [any Role] = [],
                    makeServices: @Sendable (Node, Logger) async throws -> [any Service] = { _, _ in [] }) async -> Never {
        signal(SIGPIPE, SIG_IGN)
        let logger = Logger(label: programName, level: options.logLevel, handler: options.logFormat.handler())
        logger.info("starting", metadata: options.metadata)
        OpenFileLimit.raise(logger: logger)
        // The shared event loops every component uses (its listeners, clients, the proxy's
        // upstream connections) start now: out of descriptors (or memory), the program says so
        // and exits instead of trapping at the first connection.
        do {
            _ = try EventLoopGroup.startShared()
        } catch {
            CommandLineTool.writeStandardError("\(programName): cannot start the event loops: \(error)\n")
            CommandLineTool.exit(1)
        }

        let node: Node
        do {
            var configuration = options.nodeConfiguration
            configuration.timing.shutdownGrace += additionalShutdownGrace
            node = try await Node.start(configuration, logger: logger, components: NodeComponents.forConsensus(configuration.consensus),
                                        roles: try options.roles.makeRoles() + roles)
        } catch {
            CommandLineTool.writeStandardError("\(programName): \(error)\n")
            CommandLineTool.exit(1)
        }
        // SIGHUP re-reads what may change while the node runs (the gossip keyring file, TLS certificates).
        let reloader = ServiceFunction {
            _ = try await cancelOnGracefulShutdown {
                for await _ in await UnixSignal.stream([.sighup]) {
                    logger.info("received SIGHUP")
                    node.reload()
                }
            }
        }
        var services: [ServiceGroupConfiguration.ServiceEntry] = [.init(node, name: "node"),
                                                                  .init(reloader, name: "reload-on-sighup", successTerminationBehavior: .ignore)]
        var setupError: (any Error)?
        do {
            services += try await makeServices(node, logger).map { ServiceGroupConfiguration.ServiceEntry($0) }
        } catch {
            setupError = error
            node.shutdown()
        }
        let grace = node.configuration.timing.shutdownGrace
        var configuration = ServiceGroupConfiguration(services: services, logger: logger)
        configuration.gracefulShutdownSignals = [.sigterm, .sigint]
        configuration.maximumGracefulShutdownDuration = grace
        configuration.maximumCancellationDuration = .seconds(2)
        configuration.onCancellationTimeout = { [programName] in
            logger.error("shutdown did not finish within \(GoDuration.format(grace)); exiting")
            CommandLineTool.writeStandardError("\(programName): shutdown did not finish within \(GoDuration.format(grace))\n")
            CommandLineTool.exit(1)
        }
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch let failure as NodeFailure {
            CommandLineTool.exit(failure.exitStatus)
        } catch {
            logger.error("\(error)")
            CommandLineTool.exit(1)
        }
        if let setupError {
            CommandLineTool.writeStandardError("\(programName): \(setupError)\n")
            CommandLineTool.exit(1)
        }
        CommandLineTool.exit(0)
    }
}
