@preconcurrency import Glibc
import Dispatch
import DiscoCore
import DiscoSystem
import DiscoNet
import DiscoSWIM

// disco-swim-agent: one SWIM member as a process, for real-process tests and `scripts/bench swim`.
// Everything it reports goes to stdout, one line each, written in one write(2) so lines from
// concurrent writers never interleave.

// MARK: - Output

/// CLOCK_MONOTONIC in seconds with millisecond precision (comparable across processes).
func monotonicStamp() -> String {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    let milliseconds = Int(spec.tv_nsec) / 1_000_000
    let fraction = String(milliseconds)
    return "\(spec.tv_sec).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}

func emit(_ line: String) {
    CommandLineTool.writeStandardOutput(line + " t=\(monotonicStamp())\n")
}

func describe(_ event: SWIM.MemberEvent) -> String {
    let member = event.member
    var line = "event=\(event.name) member=\(member.id) address=\(member.address) incarnation=\(member.incarnation)"
    if !member.metadata.roles.isEmpty { line += " roles=\(member.metadata.roles.joined(separator: ","))" }
    if let api = member.metadata.apiAddress { line += " api=\(api)" }
    return line
}

// MARK: - Signals

/// SIGTERM, SIGINT, SIGHUP and SIGUSR1 as an async sequence (handled through Dispatch, so their default
/// actions are turned off first). Nonisolated: the handlers run on a Dispatch queue, not the main actor.
func installSignals() -> (signals: AsyncStream<Int32>, sources: [any DispatchSourceSignal]) {
    signal(SIGTERM, SIG_IGN)
    signal(SIGINT, SIG_IGN)
    signal(SIGHUP, SIG_IGN)
    signal(SIGUSR1, SIG_IGN)
    signal(SIGPIPE, SIG_IGN)
    let (signals, sink) = AsyncStream.makeStream(of: Int32.self)
    let sources = [SIGTERM, SIGINT, SIGHUP, SIGUSR1].map { number in
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { sink.yield(number) }
        source.resume()
        return source
    }
    return (signals, sources)
}

let (signals, signalSources) = installSignals()

// MARK: - Run

let options = AgentOptions.parse(Array(CommandLine.arguments.dropFirst()), pid: getpid())
var configuration = SWIM.Shell.Configuration(
    id: options.name, bindHost: options.bindHost, port: options.bindPort, advertiseHost: options.advertiseHost,
    metadata: options.metadata, settings: options.settings,
    logger: Logger(label: "swim", level: options.logLevel, handler: LogfmtHandler()))
configuration.logger[metadataKey: "node"] = .string(options.name.rawValue)
configuration.encryption = options.encryption
configuration.clusterLabel = options.clusterLabel

let shell: SWIM.Shell
do {
    shell = try await SWIM.Shell.start(configuration)
} catch {
    CommandLineTool.writeStandardError("disco-swim-agent: \(error)\n")
    CommandLineTool.exit(1)
}

if let file = options.keyringFile {
    file.onReload { keyring throws(SWIM.ShellError) in
        try shell.installKeyring(keyring)
        emit("KEYRING installed \(keyring.fingerprints)")
    }
    if options.keyringPollInterval > .zero { file.startPolling(every: options.keyringPollInterval) }
}

let printer = Task {
    for await event in shell.events { emit(describe(event)) }
}
emit("READY id=\(shell.id) address=\(shell.address) port=\(shell.address.port)")

let joiner = Task {
    guard !options.seeds.isEmpty else { return }
    do {
        let answered = try await shell.join(seeds: options.seeds)
        emit("JOINED answered=\(answered)")
    } catch {
        // Not fatal: the shell re-contacts the seeds periodically.
        CommandLineTool.writeStandardError("disco-swim-agent: \(error)\n")
        emit("JOIN-PENDING")
    }
}

/// The shell's counters as one line.
func statisticsLine() async -> String {
    let statistics = await shell.statistics
    return "STATS datagrams_received=\(statistics.datagramsReceived) decrypt_failures=\(statistics.decryptFailures) "
        + "plaintext_dropped=\(statistics.plaintextDropped) opened_with_accepted_key=\(statistics.openedWithAcceptedKey) "
        + "push_pulls_refused=\(statistics.pushPullsRefused) keyrings_installed=\(statistics.keyringsInstalled)"
}

var received: Int32 = 0
for await number in signals {
    if number == SIGUSR1 {
        emit(await statisticsLine())
        continue
    }
    if number == SIGHUP {
        switch options.keyringFile?.reload(trigger: "SIGHUP") {
        case .installed: break  // printed by the installer
        case .unchanged: emit("KEYRING unchanged")
        case .failed(let reason): emit("KEYRING failed \(reason)")
        case nil: emit("KEYRING none (no -gossip-keyring)")
        }
        continue
    }
    received = number
    break
}
options.keyringFile?.stop()
emit("LEAVING signal=\(received)")
emit(await statisticsLine())
joiner.cancel()
await shell.leave()
await shell.shutdown()
await printer.value
emit("LEFT")
for source in signalSources { source.cancel() }
CommandLineTool.exit(0)
