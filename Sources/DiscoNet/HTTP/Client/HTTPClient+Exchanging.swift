import DiscoCore

// MARK: - HTTPClient as the discovery backends' transport

extension HTTPClient: HTTPExchanging {
    /// Sends a request for a discovery backend (Consul, etcd), turning transport failures into
    /// ``DiscoveryError``s: `unreachable` for refused or failed connections, `timeout` for
    /// deadlines, `malformed` for responses that are not HTTP/1.1 (only a connection that could
    /// not be made says the request never reached the server).
    public func exchange(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPExchangeResponse {
        var headers = HTTPHeaders()
        for header in request.headers { headers.add(name: header.name, value: header.value) }
        do {
            let response = try await send(
                HTTPClientRequest(method: request.method, url: request.url, headers: headers, body: request.body),
                timeout: timeout)
            return HTTPExchangeResponse(status: response.status,
                                        headers: response.headers.map { (name: $0.name, value: $0.value) },
                                        body: response.body)
        } catch let error as HTTPClientError {
            let kind: DiscoveryError.Kind
            switch error.code {
            case .timeout, .connectTimeout: kind = .timeout
            case .malformedResponse: kind = .malformed
            default: kind = .unreachable
            }
            // No connection, no request: the server cannot have carried it out.
            let unsent = error.code == .connectFailed || error.code == .connectTimeout
            throw DiscoveryError(kind, server: error.host, record: Self.path(of: request.url), detail: "\(error)",
                                 mayHaveReachedServer: !unsent)
        }
    }

    /// A client like this one whose `https://` connections use `settings` (CA, client
    /// certificate, verification, server name). Throws ``TLSError`` naming the file or field
    /// that cannot be used.
    public func withTLS(_ settings: ClientTLSSettings) throws -> any HTTPExchanging {
        var tls = TLSConfiguration.client(label: settings.origin)
        if let pem = settings.caPEM {
            tls.trustRoots = .pem(.bytes(pem, name: "\(settings.origin) ca_pem"))
        } else if let file = settings.caFile {
            tls.trustRoots = .pem(.file(file))
        } else if let path = settings.caPath {
            tls.trustRoots = .directory(path)
        }
        if let pem = settings.certPEM {
            tls.certificateChain = .bytes(pem, name: "\(settings.origin) cert_pem")
        } else if let file = settings.certFile {
            tls.certificateChain = .file(file)
        }
        if let pem = settings.keyPEM {
            tls.privateKey = .bytes(pem, name: "\(settings.origin) key_pem")
        } else if let file = settings.keyFile {
            tls.privateKey = .file(file)
        }
        tls.verifyPeer = !settings.insecureSkipVerify
        tls.serverName = settings.serverName
        var configuration = self.configuration
        // Nothing else reloads these files: the factory looks for a renewed certificate or CA
        // before new connections, as the node's own stores are polled.
        configuration.httpsTransport = TLSTransportFactory(try TLSContextStore(client: tls), checkingFilesEvery: .seconds(1))
        return HTTPClient(configuration: configuration, group: group)
    }

    static func path(of url: String) -> String {
        guard let scheme = url.firstRange(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        return rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
    }
}
