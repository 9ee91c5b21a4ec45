import DiscoCore
import NodeRuntime
import Testing

// MARK: - NodeConfiguration

@Suite struct NodeConfigurationTests {
    func base() -> NodeConfiguration { NodeConfiguration(nodeID: "n1", dataDirectory: "/tmp/n1") }

    @Test func defaultsDescribeASingleNodeOnLocalhost() throws {
        let configuration = base()
        #expect(configuration.api.effectiveAdvertisedAddress == PeerAddress(host: "localhost", port: 4001))
        #expect(configuration.internode.effectiveAdvertisedAddress == PeerAddress(host: "localhost", port: 4002))
        #expect(configuration.cluster.name == "disco")
        #expect(configuration.cluster.voter)
        #expect(configuration.formation.plan == .singleNode)
        #expect(configuration.eventLog.retention == .standard)
        #expect(configuration.access.auth == nil)
        #expect(configuration.timing.shutdownGrace == .seconds(10))
        #expect(configuration.timing.cursorIdleDeletion == .seconds(3600))
        try configuration.validate()
    }

    /// Each mistake is refused naming the property and what would be right.
    @Test(arguments: [
        ("formation.join", "plan .join needs addresses"),
        ("formation.discovery", "needs a consul-kv or etcd-kv discovery"),
        ("formation.joinAttempts", "must be at least 1"),
        ("cluster.name", "is not a valid name"),
        ("nodeID", "\"(cluster-name)\" is reserved"),
        ("cluster.roles", "must be lowercase letters"),
        ("internode.advertisedAddress", "must differ"),
        ("api.advertisedAddress", "is not an address other nodes can reach"),
        ("timing.electionTicks", "must be at least 2"),
        ("cluster.reapLearnerTimeout", "at least 1 second"),
        ("timing.cursorIdleDeletion", "must be zero (keep every cursor) or positive, got -1s"),
    ])
    func mistakesNameTheProperty(property: String, message: String) {
        var configuration = base()
        switch property {
        case "formation.join": configuration.formation.plan = .join
        case "formation.discovery": configuration.formation.plan = .keyValueRegistration
        case "formation.joinAttempts": configuration.formation.joinAttempts = 0
        case "cluster.name": configuration.cluster.name = "two words"
        case "nodeID": configuration.nodeID = "(cluster-name)"
        case "cluster.roles": configuration.cluster.roles = ["DNS"]
        case "internode.advertisedAddress": configuration.internode.bindAddress = configuration.api.bindAddress
        case "api.advertisedAddress": configuration.api.bindAddress = PeerAddress(host: "0.0.0.0", port: 4001)
        case "timing.electionTicks": configuration.timing.electionTicks = 1
        case "timing.cursorIdleDeletion": configuration.timing.cursorIdleDeletion = .seconds(-1)
        default: configuration.cluster.reapLearnerTimeout = .milliseconds(10)
        }
        do {
            try configuration.validate()
            Issue.record("\(property): accepted")
        } catch {
            #expect(error.property == property)
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test func roleNames() {
        #expect(RoleNames.problem(with: "dns") == nil)
        #expect(RoleNames.problem(with: "app-writer2") == nil)
        #expect(RoleNames.problem(with: "") != nil)
        #expect(RoleNames.problem(with: "2fa") != nil)
        #expect(RoleNames.problem(with: "a_b") != nil)
        #expect(RoleNames.problem(with: String(repeating: "a", count: 64)) != nil)
        #expect(RoleNames.problem(with: (0..<33).map { "r\($0)" }) == "33 roles exceed the limit of 32")
        #expect(RoleNames.normalized(["dns", "host", "dns"]) == ["dns", "host"])
    }
}
