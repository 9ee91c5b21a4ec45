// MARK: - HTTPExchanging

/// One HTTP request as discovery backends send it: a full URL (`http://host:port/path?query`),
/// headers and a body.
public struct HTTPExchangeRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// The response to an ``HTTPExchangeRequest``.
public struct HTTPExchangeResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first(where: { $0.name.lowercased() == wanted })?.value
    }

    /// The body as UTF-8 text (invalid bytes replaced), for error messages.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Something that performs HTTP exchanges: DiscoNet's pooled client in the product, in-process
/// doubles in tests. Discovery backends that speak HTTP (Consul, etcd) depend only on this.
public protocol HTTPExchanging: Sendable {
    /// Sends `request` and returns the response, or throws when the server cannot be reached or
    /// does not answer within `timeout`. A non-2xx status is a response, not an error.
    func exchange(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPExchangeResponse
}
