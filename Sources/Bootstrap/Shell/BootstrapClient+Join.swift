import DiscoCore
import DiscoNet

// MARK: - Joining

extension BootstrapClient {
    /// Tries `POST /join` on each target in order until one accepts. A 409 refusal stops at once
    /// (it is a configuration problem, not a transient one); 503, timeouts and other failures
    /// move on to the next target.
    public func join(targets: [PeerAddress], request: JoinRequest, timeout: Duration) async -> JoinResult {
        var failures: [BootstrapClientError] = []
        for target in targets {
            switch await join(target: target, request: request, timeout: timeout) {
            case .success(let accepted):
                return .joined(accepted, via: target)
            case .failure(let error) where error.code.endsAJoin:
                return .refused(error)
            case .failure(let error):
                failures.append(error)
            }
        }
        return .failed(failures)
    }

    /// Asks `targets` the same question at once, at most `width` at a time (the next target as
    /// soon as one fails), and returns the first definitive answer, whichever target gives it:
    /// accepted, or refused (409, 410, 401/403). The questions still out are then cancelled,
    /// which closes their connections. So a target that accepts the connection and never
    /// answers holds up nothing but its own question. When no target answers definitively:
    /// ``JoinResult/failed(_:)`` with one failure per target, in the order of `targets`.
    public func joinFirstAnswer(targets: [PeerAddress], request: JoinRequest, timeout: Duration, width: Int = 8) async -> JoinResult {
        await withTaskGroup(of: (index: Int, result: Result<JoinAccepted, BootstrapClientError>).self) { group in
            var asked = 0
            func askNext() {
                guard asked < targets.count else { return }
                let index = asked
                asked += 1
                group.addTask { (index, await join(target: targets[index], request: request, timeout: timeout)) }
            }
            for _ in 0..<max(1, width) { askNext() }
            var failures: [(index: Int, error: BootstrapClientError)] = []
            while let answer = await group.next() {
                switch answer.result {
                case .success(let accepted):
                    group.cancelAll()
                    return .joined(accepted, via: targets[answer.index])
                case .failure(let error) where error.code.endsAJoin:
                    group.cancelAll()
                    return .refused(error)
                case .failure(let error):
                    failures.append((answer.index, error))
                    askNext()
                }
            }
            return .failed(failures.sorted { $0.index < $1.index }.map(\.error))
        }
    }

    /// `POST /join` to one target, following up to ``maxJoinRedirects`` leader redirects
    /// (301, 302, 307, 308; the POST, its body and the `-join-as` credentials are repeated each
    /// time: the leader is a cluster peer sharing its users). A redirect from `https://` to
    /// `http://` is not followed (``BootstrapClientError/Code/insecureRedirect``).
    public func join(target: PeerAddress, request: JoinRequest, timeout: Duration) async -> Result<JoinAccepted, BootstrapClientError> {
        let body = BootstrapWire.encode(request)
        let origin = target.withoutScheme.description
        var url = baseURL(target) + "/join"
        var redirects = 0
        while true {
            let response: HTTPClientResponse
            switch await send("POST", url: url, body: body, timeout: timeout) {
            case .success(let answer): response = answer
            case .failure(let error): return .failure(error)
            }
            let here = Self.authority(of: url)
            let message = BootstrapWire.errorMessage(in: response.body)
            switch response.status {
            case 200:
                return decoding(here) { () throws(BootstrapWireError) in try BootstrapWire.decodeJoinAccepted(response.body) }
            case 301, 302, 307, 308:
                guard let location = response.headers["Location"] else {
                    return .failure(BootstrapClientError(.badAnswer, target: here, detail: "join answered \(response.status) without a Location"))
                }
                redirects += 1
                guard redirects <= Self.maxJoinRedirects else {
                    return .failure(BootstrapClientError(.tooManyRedirects, target: origin, detail:
                        "join was redirected more than \(Self.maxJoinRedirects) times without reaching the leader (last: \(here) → \(location)); "
                        + "the cluster's nodes disagree about the leader"))
                }
                guard let next = Self.resolve(location, against: url) else {
                    return .failure(BootstrapClientError(.badAnswer, target: here,
                                                         detail: "join redirected to \(location.debugDescription), which is not an http(s):// URL or path"))
                }
                if Self.isTLS(url) && !Self.isTLS(next) {
                    let carrying = authorization == nil ? "the join request" : "the join request and its -join-as credentials"
                    return .failure(BootstrapClientError(.insecureRedirect, target: here, detail:
                        "join refused to follow the redirect from \(url) to \(next): it leaves TLS for plain HTTP and would send "
                        + "\(carrying) unencrypted; every node must serve its API over HTTPS and advertise an https:// address"))
                }
                url = next
            case 503:
                // The node's own words say why ("no leader yet; retry"); say it once.
                return .failure(BootstrapClientError(.noLeader, target: here,
                                                     detail: message.contains("no leader") ? "answered 503: \(message)" : "answered 503 (no leader yet): \(message)"))
            case 409:
                return .failure(BootstrapClientError(.refused, target: here, detail: "join refused: \(message)"))
            case 401, 403:
                return .failure(BootstrapClientError(.unauthorized, target: here,
                                                     detail: "join refused (\(response.status)): \(message)\(missingCredentialsHint)"))
            case 410:
                return .failure(BootstrapClientError(.removed, target: here, detail: "removed: \(message)"))
            default:
                return .failure(BootstrapClientError(.badAnswer, target: here, detail: "join answered \(response.status): \(message)"))
            }
        }
    }

    // MARK: URLs

    /// `host:port` of an `http://host:port/path` or `https://…` URL.
    static func authority(of url: String) -> String {
        let rest = url.firstRange(of: "://").map { url[$0.upperBound...] } ?? Substring(url)
        return String(rest.prefix { $0 != "/" && $0 != "?" })
    }

    /// True for an `https://` URL.
    static func isTLS(_ url: String) -> Bool { url.lowercased().hasPrefix("https://") }

    /// An absolute `http://` or `https://` URL, or an absolute path resolved against `base` (with
    /// its scheme); `nil` otherwise.
    static func resolve(_ location: String, against base: String) -> String? {
        let lower = location.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") { return location }
        if location.hasPrefix("/"), !location.hasPrefix("//") {
            let scheme = base.lowercased().hasPrefix("https://") ? "https" : "http"
            return "\(scheme)://\(authority(of: base))\(location)"
        }
        return nil
    }
}

// MARK: - Definitive answers

extension BootstrapClientError.Code {
    /// True for a join's answers that asking another target would not change: the cluster
    /// refuses this node (409), removed it (410), or refuses its credentials (401, 403).
    public var endsAJoin: Bool {
        self == .refused || self == .removed || self == .unauthorized
    }
}
