import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoSWIM
import Foundation

// MARK: - The etcd engine's components

extension NodeComponents {
    /// The components for ``NodeConfiguration/consensus``: ``embedded`` for Raft, ``etcd`` for etcd.
    public static func forConsensus(_ choice: ConsensusChoice) -> Factory {
        switch choice {
        case .raft: embedded
        case .etcd: etcd
        }
    }

    /// etcd as the consensus engine (no Raft runs) and SWIM for failure detection and gossip,
    /// UDP and push-pull TCP on the internode address.
    public static let etcd: Factory = { context in
        let (configuration, logger) = (context.configuration, context.logger)
        guard case .etcd(let etcdConfig, let key) = configuration.consensus else {
            throw NodeStartupError("the etcd components need -consensus etcd")
        }
        let transport: any HTTPExchanging
        do {
            transport = try etcdConfig.tls.map { try HTTPClient().withTLS($0) } ?? HTTPClient()
        } catch {
            throw NodeStartupError("cannot use the TLS settings of -consensus-config: \(error)")
        }
        let gateway = EtcdGateway(endpoints: etcdConfig.endpointURLs, username: etcdConfig.username, password: etcdConfig.password,
                                  timeout: etcdConfig.dialTimeout ?? .seconds(5), transport: transport)

        let swim: SWIM.Shell
        let keyringFile: SWIM.GossipKeyringFile?
        do {
            var swimConfig = SWIM.Shell.Configuration(
                id: configuration.nodeID, bindHost: configuration.internode.bindAddress.host,
                port: configuration.internode.bindAddress.port,
                // The advertised port, not the bound one (0: the bound one), as with Raft.
                advertiseHost: configuration.internode.advertisedAddress?.host,
                advertisePort: configuration.internode.advertisedAddress.flatMap { $0.port == 0 ? nil : $0.port },
                metadata: SWIM.Metadata(apiAddress: context.apiAddress, roles: context.roles, isVoter: configuration.cluster.voter),
                logger: logger.withLabel("swim"))
            (swimConfig.encryption, keyringFile) = try gossipEncryption(configuration, logger: logger.withLabel("swim"))
            swimConfig.clusterLabel = configuration.cluster.name
            swim = try await SWIM.Shell.start(swimConfig)
        } catch {
            throw NodeStartupError("cannot start SWIM on UDP \(configuration.internode.bindAddress): \(error)")
        }
        let address = advertised(configuration.internode.effectiveAdvertisedAddress, bound: swim.address)

        var engineConfig = EtcdConsensusLog.Configuration(localID: configuration.nodeID, keys: EtcdClusterKeys(discoKey: key))
        engineConfig.memberRecord = Self.memberRecord(id: configuration.nodeID, api: context.apiAddress, internode: address,
                                                      roles: context.roles, voter: configuration.cluster.voter)
        let store = ClusterStateMachine(logger: logger.withLabel("cluster-state"))
        let consensus = EtcdConsensus(configuration: engineConfig, client: EtcdClient(gateway: gateway), store: store)
        logger.info("consensus: etcd \(gateway.endpoints.joined(separator: ",")) under /\(key)/")
        let membership = SWIMMembership(shell: swim, keyringFile: keyringFile, pollInterval: configuration.gossip.keyringPollInterval)
        return NodeComponents(consensus: consensus, membership: membership, store: store, internodeAddress: address)
    }

    /// `members/<id>`'s value: `{"id","api_addr","addr","roles","voter"}`.
    static func memberRecord(id: NodeID, api: PeerAddress, internode: PeerAddress, roles: [String], voter: Bool) -> [UInt8] {
        let object: [String: Any] = ["id": id.rawValue, "api_addr": api.url, "addr": internode.description, "roles": roles, "voter": voter]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map(Array.init) ?? []
    }
}
