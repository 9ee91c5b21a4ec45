import DiscoCore
import Foundation

// MARK: - ConsulClient

/// The parts of Consul's HTTP API the leader registry needs, with the agent address, ACL token,
/// datacenter, namespace and partition applied to every call.
public struct ConsulClient: Sendable {
    /// Connection settings, in the terms of disco-config's `consul-kv` fields.
    public struct Settings: Sendable {
        /// `host:port` of the agent (never with a scheme).
        public var address: String = "127.0.0.1:8500"
        public var scheme: String = "http"
        public var datacenter: String?
        public var token: String?
        public var namespace: String?
        public var partition: String?
        public var basicAuth: (username: String, password: String)?
        /// Deadline for each non-blocking call.
        public var timeout: Duration = .seconds(5)

        public init(address: String = "127.0.0.1:8500") { self.address = address }
    }

    public let settings: Settings
    let transport: any HTTPExchanging

    public init(settings: Settings, transport: any HTTPExchanging) {
        self.settings = settings
        self.transport = transport
    }

    /// `scheme://address`, for messages.
    public var server: String { "\(settings.scheme)://\(settings.address)" }

    /// Sends one request; `query` items are percent-encoded here.
    public func send(_ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8] = [],
                     record: String, timeout: Duration? = nil) async throws -> HTTPExchangeResponse {
        var items = query
        if let dc = settings.datacenter, !dc.isEmpty { items.append(("dc", dc)) }
        if let ns = settings.namespace, !ns.isEmpty { items.append(("ns", ns)) }
        if let partition = settings.partition, !partition.isEmpty { items.append(("partition", partition)) }
        var url = server + path
        if !items.isEmpty {
            url += "?" + items.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        var headers: [(name: String, value: String)] = []
        if let token = settings.token, !token.isEmpty { headers.append(("X-Consul-Token", token)) }
        if let auth = settings.basicAuth {
            headers.append(("Authorization", "Basic " + Data("\(auth.username):\(auth.password)".utf8).base64EncodedString()))
        }
        if !body.isEmpty { headers.append(("Content-Type", "application/json")) }
        let response: HTTPExchangeResponse
        do {
            response = try await transport.exchange(
                HTTPExchangeRequest(method: method, url: url, headers: headers, body: body),
                timeout: timeout ?? settings.timeout)
        } catch let error as DiscoveryError {
            throw DiscoveryError(error.kind, server: server, record: record, detail: error.detail)
        } catch {
            throw DiscoveryError(.unreachable, server: server, record: record, detail: "\(error)")
        }
        if response.status == 403 || response.status == 401 {
            throw DiscoveryError(.unauthorized, server: server, record: record,
                                 detail: "HTTP \(response.status): \(response.text) (check the token or token_file)")
        }
        return response
    }

    /// Decodes a JSON body or throws a `malformed` error naming the call.
    func json(_ response: HTTPExchangeResponse, record: String) throws -> Any {
        guard let value = try? JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed]) else {
            throw DiscoveryError(.malformed, server: server, record: record,
                                 detail: "HTTP \(response.status) with a body that is not JSON: \(response.text.prefix(200))")
        }
        return value
    }

    /// An error for an unexpected status.
    func failure(_ response: HTTPExchangeResponse, record: String) -> DiscoveryError {
        DiscoveryError(.serverError, server: server, record: record, detail: "HTTP \(response.status): \(response.text.prefix(300))")
    }

    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
