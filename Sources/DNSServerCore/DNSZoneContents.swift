import DiscoCore

// MARK: - The zone as records

/// The records a zone snapshot serves, by name, before they are compiled to wire form.
///
/// Names (under the apex `<domain>`):
/// - `<domain>`: SOA, and NS naming the served name servers (`<label>.node.<domain>`).
/// - `<label>.node.<domain>`: A/AAAA of each member, dead or alive (its name, not a health check).
/// - `<role>.role.<domain>`: A/AAAA of the served (alive or suspect) members performing `role`.
/// - `_<role>._tcp.<domain>`: SRV `0 1 <api port> <label>.node.<domain>` for each of them.
/// - `leader.<domain>`: A/AAAA of the leader.
/// - the names between these and the apex (`node.<domain>`, `role.<domain>`, `_tcp.<domain>`)
///   exist with no records (empty non-terminals: NODATA, never NXDOMAIN).
///
/// A name exists only while it has records or names below it: a role nobody serves, or a
/// leader that is unknown, is NXDOMAIN.
public struct DNSZoneContents: Sendable {
    public let settings: DNSZoneSettings
    /// Every name the zone has, with its records in answer order: SOA, NS, A, AAAA, SRV; within
    /// a type sorted (addresses IPv4 first, SRV by target). Empty for empty non-terminals.
    public let names: [DNSName: [DNSResourceRecord]]
    /// Each member's `<label>.node.<domain>` name (see ``DNSMemberLabels``).
    public let memberNames: [NodeID: DNSName]
    /// The apex's SOA record.
    public let soa: DNSResourceRecord
    /// Members and roles left out, and why.
    public let omissions: [DNSZoneOmission]

    public init(settings: DNSZoneSettings, source: DNSZoneSource) {
        var builder = Builder(settings: settings)
        builder.add(source)
        self.settings = settings
        names = builder.finishedNames()
        memberNames = builder.memberNames
        soa = builder.soa
        omissions = builder.omissions
    }

    /// Records of `type` at `name` (nil when the name does not exist).
    public func records(_ type: DNSRecordType, at name: DNSName) -> [DNSResourceRecord]? {
        names[name].map { records in records.filter { $0.type == type } }
    }

    /// The A and AAAA records at the targets of `records` (SRV and NS), in order: what goes in the
    /// additional section.
    func glue(for records: [DNSResourceRecord]) -> [DNSResourceRecord] {
        var seen = Set<DNSName>()
        var glue: [DNSResourceRecord] = []
        for record in records {
            let target: DNSName
            switch record.data {
            case .srv(let srv): target = srv.target
            case .ns(let host): target = host
            default: continue
            }
            guard seen.insert(target).inserted else { continue }
            glue += (names[target] ?? []).filter { $0.type == .a || $0.type == .aaaa }
        }
        return glue
    }
}

// MARK: - Building

extension DNSZoneContents {
    private struct Builder {
        let settings: DNSZoneSettings
        var addresses: [DNSName: Set<DNSIPAddress>] = [:]
        var services: [DNSName: [SRVData]] = [:]
        var nameServers: [DNSName] = []
        var memberNames: [NodeID: DNSName] = [:]
        var omissions: [DNSZoneOmission] = []
        var soa: DNSResourceRecord

        init(settings: DNSZoneSettings) {
            self.settings = settings
            soa = DNSResourceRecord(name: settings.domain, type: .soa, ttl: settings.ttl, data: .soa(SOAData(
                primaryServer: settings.domain, responsible: settings.domain, serial: 0, minimum: settings.negativeTTL)))
        }

        /// `labels` followed by the apex, or nil (with an omission) when that is longer than DNS allows.
        mutating func name(_ labels: [String], for subject: DNSZoneOmission.Subject) -> DNSName? {
            do {
                return try settings.domain.prepending(labels)
            } catch {
                omissions.append(DNSZoneOmission(subject: subject, reason: "\(labels.joined(separator: ".")).\(settings.domain) is too long for DNS (\(error.detail))"))
                return nil
            }
        }

        mutating func add(_ source: DNSZoneSource) {
            var members: [NodeID: DNSZoneMember] = [:]
            for member in source.members where members[member.id] == nil { members[member.id] = member }
            let (labels, unnamed) = DNSMemberLabels.assign(Array(members.keys))
            omissions += unnamed
            var badRoles = Set<String>()
            for (id, member) in members.sorted(by: { $0.key < $1.key }) {
                let nodeName = labels[id].flatMap { name([$0, "node"], for: .member(id)) }
                let ips = Set(member.addresses)
                if ips.isEmpty { omissions.append(DNSZoneOmission(subject: .member(id), reason: "no IP address to serve")) }
                if let nodeName {
                    memberNames[id] = nodeName
                    addresses[nodeName, default: []].formUnion(ips)
                }
                guard member.state.isServed else { continue }
                for role in Set(member.roles.map { String(decoding: $0.utf8.map(DNSWireCase.lower), as: UTF8.self) }).sorted() {
                    guard DNSZoneSettings.isHostnameLabel(Array(role.utf8)) else {
                        if badRoles.insert(role).inserted {
                            omissions.append(DNSZoneOmission(subject: .role(role), reason: "not a host name label (letters, digits and '-', not first or last); no DNS names"))
                        }
                        continue
                    }
                    if let roleName = name([role, "role"], for: .role(role)) { addresses[roleName, default: []].formUnion(ips) }
                    guard let nodeName else {
                        omissions.append(DNSZoneOmission(subject: .member(id), reason: "no SRV record for role \(role): the member has no DNS name"))
                        continue
                    }
                    guard member.apiPort != 0 else {
                        omissions.append(DNSZoneOmission(subject: .member(id), reason: "no SRV record for role \(role): no API port"))
                        continue
                    }
                    if let serviceName = name(["_" + role, "_tcp"], for: .role(role)) {
                        services[serviceName, default: []].append(SRVData(priority: 0, weight: 1, port: member.apiPort, target: nodeName))
                    }
                }
            }
            if let leader = source.leader, let member = members[leader], !member.addresses.isEmpty,
                let leaderName = name(["leader"], for: .member(leader)) {
                addresses[leaderName, default: []].formUnion(member.addresses)
            }
            var seen = Set<DNSName>()
            for id in source.nameServers {
                guard let member = members[id], member.state.isServed, let host = memberNames[id], seen.insert(host).inserted else { continue }
                nameServers.append(host)
            }
            let responsible = (try? settings.domain.prepending(["hostmaster"])) ?? settings.domain
            soa = DNSResourceRecord(name: settings.domain, type: .soa, ttl: settings.ttl, data: .soa(SOAData(
                primaryServer: nameServers.first ?? settings.domain, responsible: responsible, serial: source.serial,
                refresh: settings.refresh, retry: settings.retry, expire: settings.expire, minimum: settings.negativeTTL)))
        }

        /// Every name with its records, plus the empty non-terminals between them and the apex.
        func finishedNames() -> [DNSName: [DNSResourceRecord]] {
            let ttl = settings.ttl
            var names: [DNSName: [DNSResourceRecord]] = [:]
            names[settings.domain] = [soa] + nameServers.map { DNSResourceRecord(name: settings.domain, type: .ns, ttl: ttl, data: .ns($0)) }
            for (name, ips) in addresses where !ips.isEmpty {
                names[name, default: []] += ips.sorted().map { ip in
                    DNSResourceRecord(name: name, type: ip.isIPv6 ? .aaaa : .a, ttl: ttl, data: .address(ip))
                }
            }
            for (name, records) in services {
                let sorted = records.sorted { ($0.target.description, $0.port) < ($1.target.description, $1.port) }
                names[name, default: []] += sorted.map { DNSResourceRecord(name: name, type: .srv, ttl: ttl, data: .srv($0)) }
            }
            let apexDepth = settings.domain.labels.count
            for name in Array(names.keys) {
                var labels = name.labels
                while labels.count > apexDepth + 1 {
                    labels.removeFirst()
                    guard let parent = try? DNSName(labels: labels) else { break }
                    if names[parent] == nil { names[parent] = [] }
                }
            }
            return names
        }
    }
}
