import DiscoCore
import DiscoDNS

// MARK: - DNSSRVConfig as a query

extension DNSSRVConfig {
    /// `_<service>._<protocol>.<name>`, checked.
    public func dnsQueryName() throws(DNSConfigurationError) -> DNSName {
        for (field, value) in [("service", service), ("protocol", `protocol`.rawValue)] {
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
            return try domain.prepending(["_" + service, "_" + `protocol`.rawValue])
        } catch {
            throw DNSConfigurationError(field: "name", reason: "_\(service)._\(`protocol`.rawValue).\(domain): \(error.detail)")
        }
    }
}
