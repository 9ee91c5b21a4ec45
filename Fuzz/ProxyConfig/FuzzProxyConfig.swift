// libFuzzer entry point for the sidecar's configuration parsers: `-proxy-config` JSON
// (ProxyConfiguration), `-tcp-proxy` values (TCPProxySpec) and upstream URLs, and for the pure
// routing and header rewriting fed with what they accept.
//
// Every input must be refused with an error that names what is wrong (never a crash), or give a
// configuration whose routes decide without trapping and whose header rewriting keeps its
// promises (no hop-by-hop field forwarded, X-Forwarded-For last).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProxyConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: input, as: UTF8.self)

    // -tcp-proxy and -upstream values.
    do throws(FlagValueError) {
        let spec = try TCPProxySpec.parse(text)
        precondition(spec.listen.port > 0 || spec.listen.port == 0)
        precondition(spec.burst == 0 || spec.rate != nil, "a burst without a rate was accepted: \(text.debugDescription)")
    } catch {
        precondition(!error.reason.isEmpty, "empty -tcp-proxy error")
    }
    if case .failure(let problem) = UpstreamDefinition.parseURL(text) { precondition(!problem.message.isEmpty) }

    // A stored proxy announcement (replicated state another sidecar wrote): refused with a
    // reason, or read back to the same bytes' meaning; the writer's location and the hop peers
    // built from it never trap.
    switch ProxyAnnouncement.decode(input) {
    case .success(let announcement):
        let again = ProxyAnnouncement.decode(announcement.encoded())
        precondition(again == .success(announcement), "an announcement did not read back: \(again)")
        precondition(SidecarPeers(memberAddresses: [], announcements: [input]).contains(announcement.address.host))
    case .failure(let problem): precondition(!problem.message.isEmpty)
    }
    switch WriterLocation.locate(leader: "n", isLocal: false, announcement: input) {
    case .unknown(let reason): precondition(!reason.isEmpty)
    case .remote(_, let id, _): precondition(id == "n")
    case .local: preconditionFailure("a remote leader located as local")
    }
    _ = SidecarPeers(memberAddresses: [text], announcements: []).contains(text)

    // -proxy-config.
    guard let json = try? JSONValue.parse(input) else { return 0 }
    let configuration: ProxyConfiguration
    do {
        configuration = try ProxyConfiguration(json: json).validated()
    } catch {
        precondition(!error.message.isEmpty, "empty -proxy-config error")
        return 0
    }
    let table = configuration.routeTable
    for method in ["GET", "POST", "DELETE", "PATCH", "X"] {
        for path in ["/", "/api/v1/transactions", "", "/a?b"] {
            for writer in [WriterLocation.local, .remote(address: "h:1", id: "n"), .unknown(reason: "r")] {
                switch table.decide(method: method, path: path, hopped: method == "DELETE", writer: writer, isHealthy: { $0.count % 2 == 0 }) {
                case .forward(let route, _): precondition(route.matches(method: method, path: path))
                case .refuse(let status, let message): precondition((400...599).contains(status) && !message.isEmpty)
                }
            }
        }
    }
    // Header rewriting over the configuration's names used as fields.
    let fields = configuration.upstreams.map { (name: $0.name, value: $0.address.description) }
        + [(name: "Connection", value: configuration.upstreams.map(\.name).joined(separator: ",")), (name: "TE", value: "trailers")]
    let out = ForwardingHeaders.request(fields, client: .init(address: "10.0.0.1", proto: "http"))
    precondition(!out.contains { ForwardingHeaders.hopByHop.contains($0.name.lowercased()) }, "a hop-by-hop field was forwarded")
    precondition(out.last?.name == "Forwarded")
    return 0
}
