import DiscoDNS

// MARK: - SRVDiscoveryConfig

/// disco-config for `-disco-mode dns-srv`: `{"name", "service", "protocol", "nameserver"}`.
public struct SRVDiscoveryConfig: Sendable, Hashable {
    /// The domain under which the SRV records live. Default `rqlite`, as in rqlite.
    public var name: String
    /// The service label without its underscore. Default `rqlite`.
    public var service: String
    /// The protocol label without its underscore. Default `tcp`.
    public var protocolName: String
    /// `ip:port` of the DNS server to ask; `nil` means the system resolver (libresolv).
    public var nameserver: String?

    public init(name: String = "rqlite", service: String = "rqlite", protocolName: String = "tcp", nameserver: String? = nil) {
        self.name = name
        self.service = service
        self.protocolName = protocolName
        self.nameserver = nameserver
    }

    /// `_<service>._<protocol>.<name>`, checked.
    public func queryName() throws(DNSConfigurationError) -> DNSName {
        for (field, value) in [("service", service), ("protocol", protocolName)] {
            guard !value.isEmpty, !value.hasPrefix("_"), !value.contains("."), value.utf8.count <= 62 else {
                throw DNSConfigurationError(
                    field: field,
                    reason: "\(value.debugDescription) must be a single label of 1 to 62 characters without a leading underscore or dots, such as \(field == "service" ? "rqlite" : "tcp")")
            }
        }
        let domain: DNSName
        do {
            domain = try DNSName(parsing: name)
        } catch {
            throw DNSConfigurationError(field: "name", reason: error.detail)
        }
        do {
            return try domain.prepending(["_" + service, "_" + protocolName])
        } catch {
            throw DNSConfigurationError(field: "name", reason: "_\(service)._\(protocolName).\(domain): \(error.detail)")
        }
    }
}
