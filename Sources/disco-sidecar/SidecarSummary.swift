import DiscoCore
import HotCold
import LeaseCore
import RateLimitCore
import Sidecar

// MARK: - What -validate prints about the proxy

enum SidecarSummary {
    /// `key=value` lines for the proxy's resolved settings, after the node's.
    static func lines(_ configuration: ProxyConfiguration) -> String {
        var lines: [String] = []
        lines.append("  proxy.addr=\(configuration.listenAddress.map(\.listenDescription) ?? "(none)")")
        for upstream in configuration.upstreams {
            lines.append("  proxy.upstream.\(upstream.name)=http://\(upstream.address)\(upstream.healthPath.map { " health=\($0)" } ?? "")")
        }
        for route in configuration.routeTable.routes {
            let methods = route.methods.map { $0.sorted().joined(separator: ",") } ?? "*"
            lines.append("  proxy.route.\(route.name)=\(methods) \(route.pathPrefix) -> \(route.target)")
        }
        let policy = configuration.rateLimit.policy
        for (index, limit) in policy.limits.enumerated() {
            let zone = configuration.rateLimit.zones[limit.zone]
            var parts = ["zone=\(zone.name)", "key=\(zone.key)", "rate=\(zone.rate)", "burst=\(limit.burst)"]
            if !limit.delay.description.isEmpty { parts.append(limit.delay.description) }
            parts.append("status=\(limit.status)")
            if configuration.rateLimit.sharedZones.contains(limit.zone) { parts.append("shared") }
            // Dry run is the policy's (every limit or none): shown on each, as -limit-req writes it.
            if policy.dryRun { parts.append("dry-run") }
            lines.append("  proxy.limit_req.\(index)=" + parts.joined(separator: " "))
        }
        if !configuration.rateLimit.sharedZones.isEmpty {
            lines.append("  proxy.limit_req_share_interval=\(configuration.rateLimit.shareIntervalMilliseconds)ms")
        }
        lines.append("  proxy.hop_key=\(configuration.hopKeyFile ?? "off (hops trusted from members' addresses)")")
        lines.append("  proxy.api_keys=\(configuration.apiKeys.enabled ? configuration.apiKeys.methods.description : "off")")
        if let file = configuration.apiKeys.file { lines.append("  proxy.api_key_file=\(file)") }
        let staleness = configuration.apiKeys.maxStaleness
        lines.append("  proxy.api_key_max_staleness=" + (staleness.map { $0 == .zero ? "off" : GoDuration.format($0) } ?? "four election timeouts"))
        for tcp in configuration.tcpProxies {
            lines.append("  proxy.tcp=\(tcp)\(tcp.maxConnections.map { " max-conns=\($0)" } ?? "")\(tcp.rate.map { " rate=\($0) burst=\(tcp.burst)" } ?? "")"
                + " idle-timeout=\(configuration.idleTimeout(of: tcp).map(GoDuration.format) ?? "off")")
        }
        let webSocketIdle = configuration.webSocketIdleTimeout
        lines.append("  proxy.websocket_idle_timeout=\(webSocketIdle > .zero ? GoDuration.format(webSocketIdle) : "off")")
        lines.append("  proxy.tls=\(configuration.tls.map { $0.certificate } ?? "off")")
        let peer = configuration.peerTLS
        lines.append("  proxy.writer_ca=\(peer.caCertificate ?? "system")\(peer.serverName.map { " server_name=\($0)" } ?? "")")
        lines.append("  proxy.adv_addr=\(configuration.advertisedAddress?.description ?? "(from -proxy-addr and -http-adv-addr)")")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `key=value` lines for the hot/cold settings (`hot_cold=off` without `-hot-cold`).
    static func lines(_ hotCold: HotColdConfiguration?) -> String {
        guard let hotCold else { return "  hot_cold=off\n" }
        let lease = hotCold.lease
        var lines = [
            "  hot_cold.group=\(hotCold.group.rawValue)",
            "  hot_cold.priority=\(hotCold.priority)",
            "  hot_cold.may_be_hot=\(hotCold.mayBeHot)",
            "  hot_cold.reads=\(hotCold.coldReads.rawValue)",
            "  hot_cold.lease=ttl=\(GoDuration.format(lease.ttl)) renew_deadline=\(GoDuration.format(lease.renewDeadline)) "
                + "renew=\(GoDuration.format(lease.renewPeriod)) max_drift=\(lease.maxDrift)",
        ]
        if let file = hotCold.stateFile { lines.append("  hot_cold.state_file=\(file)") }
        if let command = hotCold.onHot { lines.append("  hot_cold.on_hot=\(command)") }
        if let command = hotCold.onCold { lines.append("  hot_cold.on_cold=\(command)") }
        lines.append("  hot_cold.hook_timeout=\(GoDuration.format(hotCold.hookTimeout))")
        return lines.joined(separator: "\n") + "\n"
    }
}
