import DiscoCore
import DiscoDNS
import Synchronization

// MARK: - SRVAddressProvider

/// `-disco-mode dns-srv`: peers from the SRV records of `_<service>._<protocol>.<name>`.
///
/// Each SRV target's addresses come from the answer's additional section when the server sent
/// them (glue), otherwise from A and AAAA lookups. Every address gets its own record's port.
/// The result is in RFC 2782 order (see ``SRVOrdering``): lowest priority first, weighted random
/// within a priority, each target's addresses in sorted order, duplicates dropped.
/// A lone target of `.` means the service is decidedly not available: no addresses.
/// A target that cannot be resolved is skipped as long as another target gives addresses;
/// when none does, the first target's error is thrown.
///
/// Without a `nameserver`, a name that is not fully qualified is searched like the system
/// resolver does (``DNSSearchList``: resolv.conf's `search` and `ndots`), so a Kubernetes
/// headless service's short name works as it does for `getaddrinfo` and Go's resolver.
public final class SRVAddressProvider: AddressProvider {
    /// The SRV name queried.
    public let queryName: DNSName
    /// Domains tried after ``queryName`` (none with a configured `nameserver`).
    public let search: DNSSearchList
    /// Whether ``queryName`` was written with a trailing dot (never searched).
    public let fullyQualified: Bool
    private let resolver: DNSResolver
    private let targetResolver: any HostAddressResolving
    // Mutex makes the generator safe to share between concurrent lookups.
    private let random: Mutex<any RandomNumberGenerator & Sendable>

    /// Builds the provider from disco-config.
    ///
    /// With a `nameserver`, SRV and address queries go to it over UDP/TCP; without one, SRV goes
    /// through libresolv and target addresses through `getaddrinfo`.
    public convenience init(
        config: DNSSRVConfig, options: DNSClientOptions = DNSClientOptions(),
        systemTimeout: Duration = .seconds(10),
        random: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
    ) throws(DNSConfigurationError) {
        try self.init(config: config, options: options, random: random,
                      system: LibresolvClient(timeoutPerTry: options.timeoutPerTry, tries: options.tries),
                      systemTargets: SystemAddressResolver(timeout: systemTimeout))
    }

    /// Builds the provider from disco-config; without a `nameserver`, SRV goes to `system` (read
    /// only then) and target addresses to `systemTargets`.
    convenience init(
        config: DNSSRVConfig, options: DNSClientOptions, random: some RandomNumberGenerator & Sendable,
        system: @autoclosure () -> LibresolvClient, systemTargets: @autoclosure () -> any HostAddressResolving
    ) throws(DNSConfigurationError) {
        let queryName = try config.dnsQueryName()
        if let nameserver = config.nameserver {
            let client = try NameserverClient(nameserver: nameserver.description, options: options)
            let resolver = DNSResolver(querier: options.cacheByTTL ? DNSCache(wrapping: client) : client)
            self.init(queryName: queryName, querier: resolver.querier, targetResolver: resolver, random: random)
        } else {
            let libresolv = system()
            self.init(queryName: queryName, querier: options.cacheByTTL ? DNSCache(wrapping: libresolv) : libresolv,
                      targetResolver: systemTargets(), random: random,
                      search: DNSSearchList(domains: libresolv.searchDomains, ndots: libresolv.ndots),
                      fullyQualified: config.name.hasSuffix("."))
        }
    }

    /// Builds the provider on explicit parts (tests, or shared clients).
    ///
    /// - Parameters:
    ///   - search: domains to try for a name that is not fully qualified (none by default).
    ///   - fullyQualified: `queryName` was written with a trailing dot, so it is never searched.
    public init(
        queryName: DNSName, querier: any DNSQuerying, targetResolver: any HostAddressResolving,
        random: some RandomNumberGenerator & Sendable, search: DNSSearchList = .none, fullyQualified: Bool = false
    ) {
        self.queryName = queryName
        self.search = search
        self.fullyQualified = fullyQualified
        self.resolver = DNSResolver(querier: querier)
        self.targetResolver = targetResolver
        self.random = Mutex(random)
    }

    public var name: String { "dns-srv \(queryName) via \(resolver.serverDescription)" }

    public func lookup() async throws -> [PeerAddress] {
        try await lookupAddresses()
    }

    /// ``lookup()`` with its error type spelled out.
    public func lookupAddresses() async throws(DNSLookupError) -> [PeerAddress] {
        let ordered = try await orderedRecords()
        let answerGlue = glue
        var resolved: [[DNSIPAddress]?] = Array(repeating: nil, count: ordered.records.count)
        var firstError: DNSLookupError?
        // Targets without glue are resolved in parallel; results keep the record order.
        let missing = Set(ordered.records.map(\.target).filter { answerGlue(ordered.additional, $0).isEmpty })
        let looked = await resolveAll(Array(missing))
        for (index, record) in ordered.records.enumerated() {
            let fromGlue = answerGlue(ordered.additional, record.target)
            if !fromGlue.isEmpty {
                resolved[index] = fromGlue
            } else if let result = looked[record.target] {
                switch result {
                case .success(let addresses): resolved[index] = addresses
                case .failure(let error): firstError = firstError ?? error
                }
            }
        }
        var seen = Set<PeerAddress>()
        var peers: [PeerAddress] = []
        for (index, record) in ordered.records.enumerated() {
            for address in resolved[index] ?? [] {
                let peer = PeerAddress(host: address.description, port: record.port)
                if seen.insert(peer).inserted { peers.append(peer) }
            }
        }
        if peers.isEmpty, let firstError { throw firstError }
        return peers
    }

    /// The SRV records in the order to try them, with the answer's additional section.
    public func orderedRecords() async throws(DNSLookupError) -> (records: [SRVData], additional: [DNSResourceRecord]) {
        let answer = try await searchedLookup()
        let records = answer.records.compactMap { record -> SRVData? in
            if case .srv(let data) = record.data { return data }
            return nil
        }
        // RFC 2782: a target of "." means the service is not available (at that entry).
        let available = records.filter { !$0.target.isRoot }
        let ordered = random.withLock { generator in
            var boxed = AnyGenerator(base: generator)
            defer { generator = boxed.base }
            return SRVOrdering.order(available, using: &boxed)
        }
        return (ordered, answer.additional)
    }

    /// The SRV answer for the first name of the search list that has one. A name that does not
    /// exist or has no SRV records moves on to the next; any other failure ends the search.
    /// When every name is missing, the error is the one for ``queryName`` as written, naming the
    /// other names tried.
    private func searchedLookup() async throws(DNSLookupError) -> DNSAnswer {
        let names = search.candidates(for: queryName, fullyQualified: fullyQualified)
        var missing: [DNSName: DNSLookupError] = [:]
        for name in names {
            do throws(DNSLookupError) {
                return try await resolver.lookup(name, type: .srv)
            } catch where error.code == .nameDoesNotExist || error.code == .noRecords {
                missing[name] = error
            }
        }
        guard let error = missing[queryName] ?? names.first.flatMap({ missing[$0] }) else {
            throw DNSLookupError(.noRecords, server: resolver.serverDescription, question: "SRV \(queryName)")
        }
        let others = names.filter { $0 != queryName }
        guard !others.isEmpty else { throw error }
        let tried = "also tried through the search list: \(others.map(\.description).joined(separator: ", "))"
        throw DNSLookupError(error.code, server: error.server, question: error.question,
                             detail: error.detail.isEmpty ? tried : "\(error.detail); \(tried)")
    }

    // MARK: Target addresses

    /// Addresses for `target` in the additional section, sorted.
    private var glue: ([DNSResourceRecord], DNSName) -> [DNSIPAddress] {
        { additional, target in
            Set(additional.compactMap { record -> DNSIPAddress? in
                guard record.name == target, record.type == .a || record.type == .aaaa, case .address(let address) = record.data else { return nil }
                return address
            }).sorted()
        }
    }

    private func resolveAll(_ targets: [DNSName]) async -> [DNSName: Result<[DNSIPAddress], DNSLookupError>] {
        let targetResolver = self.targetResolver
        return await withTaskGroup(of: (DNSName, Result<[DNSIPAddress], DNSLookupError>).self) { group in
            for target in targets {
                group.addTask {
                    do throws(DNSLookupError) {
                        return (target, .success(try await targetResolver.addresses(of: target)))
                    } catch {
                        return (target, .failure(error))
                    }
                }
            }
            var results: [DNSName: Result<[DNSIPAddress], DNSLookupError>] = [:]
            for await (target, result) in group { results[target] = result }
            return results
        }
    }
}

/// Lets an existential generator be passed where a generic one is expected.
private struct AnyGenerator: RandomNumberGenerator {
    var base: any RandomNumberGenerator & Sendable
    mutating func next() -> UInt64 { base.next() }
}
