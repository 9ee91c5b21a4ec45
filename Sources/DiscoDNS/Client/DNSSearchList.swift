import DiscoDNSMessage

// MARK: - DNSSearchList

/// The system resolver's search list and `ndots`, applied to a name the way glibc's
/// `res_nsearch` (and Go's resolver) does: a fully qualified name (written with a trailing dot)
/// is asked as given; any other name with at least `ndots` dots is asked as given first and then
/// with each search domain appended; one with fewer dots is asked with each search domain first
/// and as given last.
///
/// This is what makes a short name such as a Kubernetes headless service (`app-hs`, searched in
/// `<namespace>.svc.cluster.local`) resolve as it does for `getaddrinfo`.
public struct DNSSearchList: Sendable, Hashable {
    /// The search domains, in order.
    public var domains: [DNSName]
    /// `options ndots:`.
    public var ndots: Int

    /// No search list: every name is asked as given.
    public static let none = DNSSearchList(domains: [DNSName](), ndots: 1)

    public init(domains: [DNSName], ndots: Int) {
        self.domains = domains.filter { !$0.isRoot }
        self.ndots = max(0, ndots)
    }

    /// The search list of a resolver configuration; domains that are not valid names are left out.
    public init(domains: [String], ndots: Int) {
        self.init(domains: domains.compactMap { try? DNSName(parsing: $0) }, ndots: ndots)
    }

    /// The names to ask for `name`, in order, without repeats.
    ///
    /// - Parameter fullyQualified: the name was written with a trailing dot (never searched).
    public func candidates(for name: DNSName, fullyQualified: Bool) -> [DNSName] {
        guard !fullyQualified, !name.isRoot, !domains.isEmpty else { return [name] }
        let asGivenFirst = name.labels.count - 1 >= ndots
        var names: [DNSName] = asGivenFirst ? [name] : []
        for domain in domains {
            // A name made too long by a domain is skipped, as glibc does.
            if let joined = try? DNSName(labels: name.labels + domain.labels) { names.append(joined) }
        }
        if !asGivenFirst { names.append(name) }
        var seen = Set<DNSName>()
        return names.filter { seen.insert($0).inserted }
    }
}
