// libFuzzer entry point for `-consensus etcd -consensus-config`: the value given inline, or as
// the path of a file holding the input ($VAR expanded either way), parsed exactly as discod's
// command line parses it (DiscodOptions), and the same value refused without `-consensus etcd`.
//
// Every input must be refused with an error that names -consensus-config (never a crash), or
// give an etcd configuration whose endpoints are usable base URLs: at least one, each reading
// back as the same host and port, https exactly when TLS settings are given or https was written.

let environment: [String: String] = ["ETCD": "etcd-0:2379", "CA": "/etc/ca.pem", "Q": "\""]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConsensusConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    let loader = DiscoConfigLoader(environment: { environment[$0] }, readFile: { $0 == "/etc/disco/etcd.json" ? bytes : nil })
    let base = ["-node-id", "n1", "-http-addr", "127.0.0.1:4001", "-raft-addr", "127.0.0.1:4002"]

    for value in [text, "/etc/disco/etcd.json"] {
        let options: DiscodOptions
        do {
            options = try DiscodOptions.parse(base + ["-consensus", "etcd", "-consensus-config", value, "data"], loader: loader)
        } catch {
            precondition(error.message.contains("consensus-config") || error.message.contains("consensus"),
                         "a -consensus-config error that does not name the flag: \(error.message)")
            continue
        }
        guard let etcd = options.consensusEtcd else { preconditionFailure("-consensus etcd accepted without an etcd configuration") }
        let urls = etcd.endpointURLs
        precondition(!urls.isEmpty && urls.count == etcd.endpoints.count, "no endpoints accepted")
        for (url, endpoint) in zip(urls, etcd.endpoints) {
            let again: PeerAddress
            do throws(PeerAddressError) {
                again = try PeerAddress(parsing: url)
            } catch {
                preconditionFailure("endpoint \(endpoint) gives a base URL that does not parse: \(url) (\(error))")
            }
            precondition(again.host == endpoint.host && again.port == endpoint.port, "\(url) does not read back as \(endpoint)")
            let https = etcd.tls != nil || endpoint.scheme == .https
            precondition(url.hasPrefix(https ? "https://" : "http://"), "\(url): wrong scheme (TLS settings: \(etcd.tls != nil))")
        }
        if let tls = etcd.tls { precondition((tls.certFile == nil) == (tls.keyFile == nil), "half a client certificate accepted") }
    }

    // Without -consensus etcd a value is refused, whatever it is (an empty one is no value).
    guard !text.isEmpty else { return 0 }
    do {
        _ = try DiscodOptions.parse(base + ["-consensus-config", text, "data"], loader: loader)
        preconditionFailure("-consensus-config accepted with the Raft engine")
    } catch {
        precondition(!error.message.isEmpty)
    }
    return 0
}
