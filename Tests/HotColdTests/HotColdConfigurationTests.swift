import DiscoCore
import HotCold
import LeaseCore
import Testing

@Suite("Hot/cold flags and configuration")
struct HotColdConfigurationTests {
    private func parse(_ arguments: [String]) throws(FlagError) -> HotColdConfiguration? {
        var flags = FlagSet(programName: "disco-sidecar", synopsis: "Usage: disco-sidecar [flags]")
        let hotCold = HotColdFlags(declaringIn: &flags)
        return try hotCold.configuration(from: try flags.parse(arguments))
    }

    private func error(_ arguments: [String]) -> FlagError? {
        do {
            _ = try parse(arguments)
            return nil
        } catch {
            return error
        }
    }

    @Test func withoutTheFlagThereIsNoConfiguration() throws {
        #expect(try parse([]) == nil)
    }

    @Test func defaultsMatchTheDocumentedOnes() throws {
        let configuration = try #require(try parse(["-hot-cold"]))
        #expect(configuration.group == .default)
        #expect(configuration.lease == LeaseSettings())
        #expect(configuration.lease.ttl == .milliseconds(500))
        #expect(configuration.priority == 0)
        #expect(configuration.mayBeHot)
        #expect(configuration.stateFile == nil)
        #expect(configuration.onHot == nil && configuration.onCold == nil)
        #expect(configuration.hookTimeout == .seconds(30))
        #expect(configuration.coldReads == .local)
    }

    @Test func everyFlagReachesTheConfiguration() throws {
        let configuration = try #require(try parse([
            "-hot-cold", "-hot-cold-group", "orders", "-hot-priority", "7", "-hot-state-file", "/run/app/hot.json",
            "-on-hot", "promote.sh", "-on-cold", "demote.sh", "-hot-cold-hook-timeout", "5s", "-hot-cold-reads", "hot",
            "-lease-ttl", "2s", "-lease-renew-deadline", "1500ms", "-lease-renew", "300ms", "-lease-max-drift", "0.02",
        ]))
        #expect(configuration.group.rawValue == "orders")
        #expect(configuration.priority == 7)
        #expect(configuration.stateFile == "/run/app/hot.json")
        #expect(configuration.onHot == "promote.sh")
        #expect(configuration.onCold == "demote.sh")
        #expect(configuration.hookTimeout == .seconds(5))
        #expect(configuration.coldReads == .hot)
        #expect(configuration.lease.ttl == .seconds(2))
        #expect(configuration.lease.renewDeadline == .milliseconds(1500))
        #expect(configuration.lease.renewPeriod == .milliseconds(300))
        #expect(configuration.lease.maxDrift == 0.02)
    }

    @Test func noHotMakesTheReplicaIneligible() throws {
        let configuration = try #require(try parse(["-hot-cold", "-no-hot"]))
        #expect(!configuration.mayBeHot)
    }

    @Test func errorsNameTheFlagAtFault() {
        let cases: [([String], String, String)] = [
            (["-hot-priority", "3"], "hot-priority", "needs -hot-cold"),
            (["-on-hot", "x"], "on-hot", "needs -hot-cold"),
            (["-lease-ttl", "2s"], "lease-ttl", "needs -hot-cold"),
            (["-hot-cold", "-hot-cold-group", "two words"], "hot-cold-group", "not a group name"),
            (["-hot-cold", "-hot-cold-reads", "remote"], "hot-cold-reads", "not one of local, hot"),
            (["-hot-cold", "-lease-renew-deadline", "495ms"], "lease-renew-deadline", "490.099009ms"),
            (["-hot-cold", "-lease-ttl", "400ms"], "lease-renew-deadline", "shorter than -lease-ttl"),
            (["-hot-cold", "-lease-renew", "350ms"], "lease-renew", "too long"),
            (["-hot-cold", "-lease-max-drift", "0.5"], "lease-max-drift", "0...0.2"),
            (["-hot-cold", "-hot-priority", "2000000"], "hot-priority", "out of range"),
            (["-hot-cold", "-hot-cold-hook-timeout", "0s"], "hot-cold-hook-timeout", "above 0"),
            (["-hot-cold", "-no-hot", "-on-hot", "promote.sh"], "on-hot", "never run"),
            (["-hot-cold", "-on-cold", "  "], "on-cold", "empty"),
            (["-hot-cold", "-hot-state-file", "/run/app/"], "hot-state-file", "not a file path"),
        ]
        for (arguments, flag, words) in cases {
            let found = error(arguments)
            #expect(found?.flag == flag, "\(arguments): \(String(describing: found))")
            #expect(found?.message.contains(words) == true, "\(arguments): \(found?.message ?? "no error")")
            #expect(found?.message.contains("-\(flag)") == true, "\(arguments): \(found?.message ?? "no error")")
        }
    }

    @Test func configurationValidationNamesTheFlagToo() {
        var configuration = HotColdConfiguration()
        configuration.hookTimeout = .zero
        #expect(throws: HotColdConfigurationError.self) { try configuration.validate() }
        do {
            try configuration.validate()
        } catch {
            #expect(error.flag == "hot-cold-hook-timeout")
            #expect(error.description.hasPrefix("-hot-cold-hook-timeout: "))
        }
    }
}
