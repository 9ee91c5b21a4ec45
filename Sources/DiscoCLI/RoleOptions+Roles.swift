import DNSServerCore
import DiscoCore
import DiscoDNSServer
import DiscoRoles
import NodeRuntime

// MARK: - From role options to running roles

extension RoleOptions {
    /// The dns role's settings (nil without `-roles dns`); throws naming the `-dns-*` flag whose
    /// value cannot work.
    public func dnsConfiguration() throws(FlagError) -> DNSRoleConfiguration? {
        guard performsDNS else { return nil }
        do throws(DNSSettingsError) {
            return try DNSRoleConfiguration(address: dnsAddress, domain: dnsDomain, ttl: dnsTTL)
        } catch {
            let flag = error.flag.hasPrefix("-") ? String(error.flag.dropFirst()) : "dns-ttl"
            throw FlagError.invalid(flag, error.reason)
        }
    }

    /// The ``Role`` implementations for ``performs`` (names Disco does not implement are only
    /// announced).
    public func makeRoles() throws -> [any Role] {
        try BuiltInRoles.make(performs, settings: BuiltInRoles.Settings(dns: try dnsConfiguration()))
    }
}
