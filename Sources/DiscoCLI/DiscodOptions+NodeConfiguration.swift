import DiscoCore
import NodeRuntime

// MARK: - From flags to a node configuration

extension DiscodOptions {
    /// The node these options describe, with discod's formation policy (``formationPlan``)
    /// decided here: the node itself takes plain values and knows no flags.
    public var nodeConfiguration: NodeConfiguration {
        var configuration = NodeConfiguration(nodeID: nodeID, dataDirectory: dataDirectory)
        configuration.api.bindAddress = httpAddress
        configuration.api.advertisedAddress = httpAdvertisedAddress
        configuration.internode.bindAddress = raftAddress
        configuration.internode.advertisedAddress = raftAdvertisedAddress
        configuration.cluster.name = clusterName
        configuration.cluster.voter = !raftNonVoter
        configuration.cluster.reapLearnerTimeout = reapLearnerTimeout
        configuration.cluster.roles = roles.performs
        configuration.cluster.requires = roles.requires
        configuration.cluster.bootstrapNeeds = roles.bootstrapNeeds
        configuration.formation.plan = formationPlan
        configuration.formation.join = join
        configuration.formation.discovery = discoConfig.map { NodeConfiguration.Formation.Discovery(config: $0, key: discoKey) }
        configuration.formation.bootstrapExpect = bootstrapExpect
        configuration.consensus = consensusEtcd.map { .etcd($0, key: discoKey) } ?? .raft
        configuration.formation.bootstrapExpectTimeout = bootstrapExpectTimeout
        configuration.formation.joinAttempts = joinAttempts
        configuration.formation.joinInterval = joinInterval
        configuration.formation.connectTimeout = clusterConnectTimeout
        configuration.gossip.encryption = gossipEncryption.map { options in
            var encryption = NodeConfiguration.Gossip.Encryption(keyring: options.keyring, keyringPath: options.keyringPath)
            encryption.verifyIncoming = options.verifyIncoming
            encryption.verifyOutgoing = options.verifyOutgoing
            return encryption
        }
        configuration.tls.api = httpTLS
        configuration.tls.internode = nodeTLS
        configuration.tls.internodeNoVerify = nodeNoVerify
        configuration.tls.loaded = loadedTLS
        configuration.eventLog.retention = EventRetention(maxEvents: eventsRetain, maxBytes: eventsRetainBytes)
        configuration.timing.cursorIdleDeletion = eventsCursorIdle
        configuration.access.auth = auth
        configuration.access.joinAs = joinAs
        return configuration
    }
}
