import DiscoCLI
import DiscoCore
import NodeRuntime
import Testing

// MARK: - discod's flags become a NodeConfiguration

@Suite struct NodeConfigurationFromFlagsTests {
    let loader = DiscoConfigLoader(environment: { _ in nil }, readFile: { _ in nil })

    @Test func everyFlagLandsInTheConfiguration() throws {
        let options = try DiscodOptions.parse([
            "-node-id", "n1", "-http-addr", "10.0.0.1:4001", "-http-adv-addr", "n1.example:4001", "-raft-addr", "10.0.0.1:4002",
            "-raft-adv-addr", "n1.example:4002", "-cluster-name", "prod", "-events-retain", "50", "-events-retain-bytes", "1MiB",
            "-join", "http://h1:4001,h2:4001,h3:4001", "-join-attempts", "7", "-join-interval", "250ms", "-bootstrap-expect", "3",
            "-bootstrap-expect-timeout", "30s", "-cluster-connect-timeout", "5s", "-reap-learner-timeout", "2m", "data",
        ], loader: loader)
        let configuration = options.nodeConfiguration
        #expect(configuration.nodeID == "n1")
        #expect(configuration.dataDirectory == "data")
        #expect(configuration.api.bindAddress == PeerAddress(host: "10.0.0.1", port: 4001))
        #expect(configuration.api.effectiveAdvertisedAddress == PeerAddress(host: "n1.example", port: 4001))
        #expect(configuration.internode.effectiveAdvertisedAddress == PeerAddress(host: "n1.example", port: 4002))
        #expect(configuration.cluster.name == "prod")
        #expect(configuration.cluster.voter)
        #expect(configuration.cluster.reapLearnerTimeout == .seconds(120))
        #expect(configuration.eventLog.retention == EventRetention(maxEvents: 50, maxBytes: 1 << 20))
        #expect(configuration.formation.plan == .bootstrapExpect)
        #expect(configuration.formation.join.map(\.url) == ["http://h1:4001", "http://h2:4001", "http://h3:4001"])
        #expect(configuration.formation.joinAttempts == 7)
        #expect(configuration.formation.joinInterval == .milliseconds(250))
        #expect(configuration.formation.bootstrapExpect == 3)
        #expect(configuration.formation.bootstrapExpectTimeout == .seconds(30))
        #expect(configuration.formation.connectTimeout == .seconds(5))
        #expect(configuration.formation.discovery == nil)
        try configuration.validate()
    }

    /// discod's formation policy decides the plan; the node follows it.
    @Test(arguments: [
        ("-node-id 1 data", "single-node"),
        ("-node-id 1 -join h1:4001 data", "join"),
        ("-node-id 1 -join h1:4001,h2:4001 -bootstrap-expect 2 data", "bootstrap-expect"),
        (#"-node-id 1 -disco-mode dns -disco-config {"name":"n"} -bootstrap-expect 3 data"#, "bootstrap-expect"),
        (#"-node-id 1 -disco-mode etcd-kv -disco-config {"endpoints":["e:2379"]} data"#, "kv-registration"),
    ])
    func thePlanFollowsTheFlags(line: String, plan: String) throws {
        let options = try DiscodOptions.parse(line.split(separator: " ").map(String.init), loader: loader)
        let configuration = options.nodeConfiguration
        #expect(configuration.formation.plan.description == plan)
        #expect(options.formationPlan.description == plan)
        #expect(configuration.formation.discovery?.mode == options.discoMode)
        try configuration.validate()
    }
}
