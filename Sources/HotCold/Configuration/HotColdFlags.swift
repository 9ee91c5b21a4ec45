import DiscoCore
import LeaseCore

// MARK: - HotColdFlags

/// The `-hot-cold` flags, declared into any program's ``FlagSet`` (the sidecar's) and turned
/// into a ``HotColdConfiguration``.
public struct HotColdFlags: Sendable {
    public let enabled: Flag<Bool>
    public let group: Flag<String>
    public let priority: Flag<Int>
    public let noHot: Flag<Bool>
    public let stateFile: Flag<String>
    public let onHot: Flag<String>
    public let onCold: Flag<String>
    public let hookTimeout: Flag<Duration>
    public let coldReads: Flag<String>
    public let ttl: Flag<Duration>
    public let renewDeadline: Flag<Duration>
    public let renewPeriod: Flag<Duration>
    public let maxDrift: Flag<Double>

    /// The usage heading the flags appear under.
    public static let heading = "Hot/cold fail-over"

    /// Declares the flags in `flags` under ``heading``.
    public init(declaringIn flags: inout FlagSet) {
        let defaults = HotColdConfiguration()
        (enabled, group, priority, noHot, stateFile, onHot, onCold, hookTimeout, coldReads) = flags.grouped(Self.heading) { flags in
            (flags.bool("hot-cold", usage: "make this replica one of a hot/cold group: exactly one member is hot, fenced by a token;\n"
                 + "a replica may be hot only while every upstream (-upstream and each in -proxy-config)\npasses its health checks"),
             flags.string("hot-cold-group", default: defaults.group.rawValue, usage: "the group's name (replicas with the same name share one lease)",
                          typeName: "name"),
             flags.int("hot-priority", usage: "among eligible replicas the highest priority is made hot (ties: the smallest node ID)"),
             flags.bool("no-hot", usage: "never make this replica hot (it serves reads and forwards writes)"),
             flags.string("hot-state-file", usage: "rewrite this JSON file atomically on every change: {\"state\",\"token\",\"since\",...}",
                          typeName: "path"),
             flags.string("on-hot", usage: "shell command run when this replica becomes hot (DISCO_FENCING_TOKEN etc. in its environment)",
                          typeName: "command"),
             flags.string("on-cold", usage: "shell command run when this replica stops being hot", typeName: "command"),
             flags.duration("hot-cold-hook-timeout", default: defaults.hookTimeout, usage: "kill an -on-hot or -on-cold command still running after this long"),
             flags.string("hot-cold-reads", default: defaults.coldReads.rawValue,
                          usage: "where a cold replica's reads go: local (its own upstream) or hot\n(forwarded like writes)", typeName: "local|hot"))
        }
        (ttl, renewDeadline, renewPeriod, maxDrift) = flags.grouped(Self.heading) { flags in
            (flags.duration(LeaseSettings.Flag.ttl.rawValue, default: defaults.lease.ttl,
                            usage: "how long after the last applied grant, renewal or release the leader may grant\nthe lease elsewhere"),
             flags.duration(LeaseSettings.Flag.renewDeadline.rawValue, default: defaults.lease.renewDeadline,
                            usage: "how long after sending an applied renewal the holder may act as hot"),
             flags.duration(LeaseSettings.Flag.renewPeriod.rawValue, default: defaults.lease.renewPeriod, usage: "how often the holder renews"),
             flags.custom(LeaseSettings.Flag.maxDrift.rawValue, default: defaults.lease.maxDrift, defaultText: "\(defaults.lease.maxDrift)",
                          typeName: "fraction", usage: "the bound on any clock's rate error (0.01 = 1%)") { text throws(FlagValueError) in
                 guard let value = Double(text), value.isFinite else { throw FlagValueError("expected a fraction such as 0.01") }
                 return value
             })
        }
        // Sidecar-only flags: a repeat is a mistake (two groups, two hooks), not an override.
        flags.givenOnce([enabled.name] + dependentFlags)
    }

    /// The flags that only mean something with `-hot-cold`.
    var dependentFlags: [String] {
        [group.name, priority.name, noHot.name, stateFile.name, onHot.name, onCold.name, hookTimeout.name, coldReads.name,
         ttl.name, renewDeadline.name, renewPeriod.name, maxDrift.name]
    }

    /// The configuration the flags describe, validated; nil without `-hot-cold`. Any other hot/cold
    /// flag without `-hot-cold` is an error naming it.
    public func configuration(from parsed: ParsedFlags) throws(FlagError) -> HotColdConfiguration? {
        guard parsed[enabled] else {
            if let stray = dependentFlags.first(where: { parsed.isSet($0) }) {
                throw FlagError.conflict(stray, "-\(stray) needs -hot-cold (add -hot-cold, or drop -\(stray))")
            }
            return nil
        }
        var configuration = HotColdConfiguration()
        guard let groupName = LeaseGroup(parsed[group]) else {
            throw FlagError.invalid(group.name, "\(parsed[group].debugDescription) is not a group name: use 1 to 255 bytes without whitespace or control characters")
        }
        configuration.group = groupName
        configuration.priority = parsed[priority]
        configuration.mayBeHot = !parsed[noHot]
        configuration.stateFile = parsed.isSet(stateFile) ? parsed[stateFile] : nil
        configuration.onHot = parsed.isSet(onHot) ? parsed[onHot] : nil
        configuration.onCold = parsed.isSet(onCold) ? parsed[onCold] : nil
        configuration.hookTimeout = parsed[hookTimeout]
        guard let reads = HotColdConfiguration.ColdReads(rawValue: parsed[coldReads]) else {
            throw FlagError.invalid(coldReads.name, "\(parsed[coldReads].debugDescription) is not one of local, hot")
        }
        configuration.coldReads = reads
        configuration.lease = LeaseSettings.unchecked(ttl: parsed[ttl], renewDeadline: parsed[renewDeadline],
                                                      renewPeriod: parsed[renewPeriod], maxDrift: parsed[maxDrift])
        do {
            try configuration.validate()
        } catch {
            throw FlagError.invalid(error.flag, error.reason)
        }
        return configuration
    }
}
