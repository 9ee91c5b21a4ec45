import DiscoCore
import DiscoDNSServer
import DiscoDiscovery
import DiscoNet
import DiscoRoles
import NodeRuntime

// MARK: - StartupCheck

/// What `discod` checks after parsing its command line and before it touches the data directory
/// or binds a port; `discod -validate` runs exactly this and stops.
public enum StartupCheck {
    /// Builds the discovery backends the options name, as the node will at its first lookup, so
    /// a configuration that parses but cannot work (a nameserver that is not an IP address, an
    /// unreadable Consul token file, a CA or client certificate that cannot be loaded) is a
    /// command-line error (exit 2) instead of a formation that retries forever.
    /// The dns role's `-dns-addr` (not on the port of `-http-addr` or `-raft-addr`), `-dns-domain`
    /// and `-dns-ttl` are checked here too, and so is
    /// `-consensus-config` (its endpoints as base URLs, its CA and client certificate loaded).
    public static func check(_ options: DiscodOptions) throws(FlagError) {
        if let dns = try options.roles.dnsConfiguration() {
            // The dns role binds UDP and TCP on its port: the API's TCP, or Raft's TCP and gossip's UDP, would take it first.
            let address = PeerAddress(host: dns.server.host, port: dns.server.port)
            for (flag, other) in [("http-addr", options.httpAddress), ("raft-addr", options.raftAddress)] where address.listensOnSamePort(as: other) {
                throw FlagError.conflict("dns-addr", "-dns-addr \(options.roles.dnsAddress) and -\(flag) \(other) would both listen on port "
                    + "\(other.port); give the dns role another port")
            }
        }
        if let problem = options.nodeConfiguration.gossipMetadataProblem() {
            throw FlagError.invalid(options.nodeConfiguration.cluster.roles.isEmpty ? "node-id" : "roles", problem)
        }
        if let etcd = options.consensusEtcd {
            do {
                try Discovery.checkBackends(config: .etcdKV(etcd), discoKey: options.discoKey, defaultPort: 2379, transport: HTTPClient())
                for url in etcd.endpointURLs { _ = try PeerAddress(parsing: url) }
            } catch {
                throw FlagError(code: .invalidValue, flag: "consensus-config", message: "invalid value for flag -consensus-config: \(error)")
            }
        }
        guard let config = options.discoConfig else { return }
        do {
            try Discovery.checkBackends(config: config, discoKey: options.discoKey, defaultPort: options.httpAddress.port,
                                        transport: HTTPClient())
        } catch {
            throw FlagError(code: .invalidValue, flag: "disco-config", message: "invalid value for flag -disco-config: \(error)")
        }
    }

    /// What `-validate` prints on success: one line, then the resolved settings as `key=value`
    /// lines in a stable order.
    public static func summary(_ options: DiscodOptions, program: String = "discod") -> String {
        var lines = ["\(program): configuration is valid (nothing was started; the data directory was not opened)"]
        for (key, value) in options.metadata.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(key)=\(value)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
