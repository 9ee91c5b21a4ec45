// disco-sim: runs deterministic simulator seeds for the protocol cores.
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
let usage = """
    usage: disco-sim raft [--scenario chaos|joins] [--seeds N] [--first-seed F] [--seed S]
                          [--chaos-seconds C] [--verbose] [--lying-disk] [--promote-regardless]
           disco-sim raft --bench [--proposals P] [--dir D]
           disco-sim swim [--seeds N] [--first-seed F] [--seed S] [--members M] [--soak SECONDS]
                          [--encrypted]
           disco-sim lease [--seeds N] [--first-seed F] [--seed S] [--replicas R] [--chaos-seconds C]
                           [--scenario chaos|failover|kill-hot|kill-hot-leader|kill-leader
                                       |transfer-from-hot]
                           [--lease-ttl D] [--lease-renew-deadline D] [--lease-renew D]
                           [--lease-max-drift F] [--clock-drift F] [--unsafe-lease-renew-deadline D]
                           [--verbose]
           disco-sim ratelimit [--seeds N] [--first-seed F] [--seed S] [--steps K] [--shared]
           disco-sim ratelimit --bench [--keys K] [--decisions D]
    """

switch arguments.first {
case "raft":
    exit(RaftSimCommand.run(Array(arguments.dropFirst())))
case "swim":
    exit(SWIMSimCommand.run(Array(arguments.dropFirst())))
case "lease":
    exit(LeaseSimCommand.run(Array(arguments.dropFirst())))
case "ratelimit":
    exit(RateLimitSimCommand.run(Array(arguments.dropFirst())))
case "-h", "-help", "--help":
    print(usage)
    exit(0)
default:
    fputs("disco-sim: expected a subcommand, raft, swim, lease or ratelimit\n\(usage)\n", stderr)
    exit(2)
}
