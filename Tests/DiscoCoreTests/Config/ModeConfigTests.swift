import Testing
@testable import DiscoCore

@Suite struct ModeConfigTests {
    func decode(_ mode: DiscoMode, _ text: String) throws -> DiscoConfig {
        try DiscoConfig.decode(mode: mode, json: try JSONValue.parse(text))
    }

    func failure(_ mode: DiscoMode, _ text: String) throws -> ConfigError {
        let json = try JSONValue.parse(text)
        do {
            _ = try DiscoConfig.decode(mode: mode, json: json)
        } catch {
            return error
        }
        Issue.record("expected \(text) to be rejected for \(mode)")
        return ConfigError(code: .syntax, field: nil, message: "")
    }

    // MARK: dns

    @Test func dnsFields() throws {
        let config = try decode(.dns, #"{"name":"rqlite.local","port":4002,"nameserver":"127.0.0.1:5353"}"#)
        #expect(config == .dns(DNSConfig(name: "rqlite.local", port: 4002, nameserver: PeerAddress(host: "127.0.0.1", port: 5353))))
        let defaultPort = try decode(.dns, #"{"name":"a","nameserver":"[::1]"}"#)
        #expect(defaultPort == .dns(DNSConfig(name: "a", nameserver: PeerAddress(host: "::1", port: 53))))
    }

    @Test(arguments: [
        (#"{"name":"x","port":"abc"}"#, ConfigError.Code.invalidValue, "port", #"disco-config for dns field "port": expected an integer from 1 to 65535, got "abc""#),
        (#"{"name":"x","port":70000}"#, .invalidValue, "port", "expected an integer from 1 to 65535, got 70000"),
        (#"{"name":"x","port":4001.5}"#, .invalidValue, "port", "got 4001.5"),
        (#"{"name":""}"#, .invalidValue, "name", "must not be empty"),
        (#"{"name":"a b"}"#, .invalidValue, "name", "expected a DNS name"),
        (#"{"name":"a..b"}"#, .invalidValue, "name", "expected a DNS name"),
        (#"{"name":7}"#, .invalidValue, "name", "expected a string, got 7"),
        (#"{"port":1}"#, .missingField, "name", "missing required field \"name\""),
        (#"{"name":"x","nameserver":"http://h:53"}"#, .invalidValue, "nameserver", "without a URL scheme"),
        (#"{"name":"x","nameserver":"h:0"}"#, .invalidValue, "nameserver", "is not a number from 1 to 65535"),
        (#"{"nmae":"x"}"#, .unknownField, "nmae", #"unknown field "nmae"; did you mean "name"? Valid fields are: name, port, nameserver"#),
    ])
    func dnsErrors(text: String, code: ConfigError.Code, field: String, fragment: String) throws {
        let error = try failure(.dns, text)
        #expect(error.code == code)
        #expect(error.field == field)
        #expect(error.message.contains(fragment), "\(error.message)")
    }

    @Test func configMustBeAnObject() throws {
        let error = try failure(.dns, #"["name"]"#)
        #expect(error.message == "disco-config for dns: expected a JSON object, got an array")
    }

    @Test func nullCountsAsAbsent() throws {
        #expect(try decode(.dns, #"{"name":"x","port":null}"#) == .dns(DNSConfig(name: "x")))
    }

    // MARK: dns-srv

    @Test func dnsSRVFields() throws {
        let config = try decode(.dnsSRV, #"{"name":"rqlite.local","service":"rqlite-svc"}"#)
        guard case .dnsSRV(let srv) = config else { Issue.record("wrong mode"); return }
        #expect(srv.protocol == .tcp)
        #expect(srv.queryName == "_rqlite-svc._tcp.rqlite.local")
        let udp = try decode(.dnsSRV, #"{"name":"a","service":"_s","protocol":"udp","nameserver":"ns:53"}"#)
        #expect(udp == .dnsSRV(DNSSRVConfig(name: "a", service: "s", protocol: .udp, nameserver: PeerAddress(host: "ns", port: 53))))
    }

    @Test(arguments: [
        (#"{"name":"a","service":"s","protocol":"sctp"}"#, "protocol", #"expected "tcp" or "udp", got "sctp""#),
        (#"{"name":"a"}"#, "service", "missing required field \"service\""),
        (#"{"name":"a","service":"a.b"}"#, "service", "expected a service label"),
        (#"{"name":"a","service":"s","port":1}"#, "port", "Valid fields are: name, service, protocol, nameserver"),
    ])
    func dnsSRVErrors(text: String, field: String, fragment: String) throws {
        let error = try failure(.dnsSRV, text)
        #expect(error.field == field)
        #expect(error.message.contains(fragment), "\(error.message)")
    }

    // MARK: consul-kv

    @Test func consulFields() throws {
        let text = #"""
            {"address":"example.com:8500","scheme":"https","datacenter":"dc1","token":"t","namespace":"ns",
             "partition":"p","basic_auth":{"username":"u","password":"pw"},
             "tls_config":{"address":"consul","ca_file":"/ca.pem","ca_path":"/cas","ca_pem":"aGk=",
                           "cert_file":"/c.pem","key_file":"/k.pem","insecure_skip_verify":true}}
            """#
        guard case .consulKV(let consul) = try decode(.consulKV, text) else { Issue.record("wrong mode"); return }
        #expect(consul.address == PeerAddress(host: "example.com", port: 8500))
        #expect(consul.scheme == .https)
        #expect(consul.datacenter == "dc1")
        #expect(consul.basicAuth?.password == "pw")
        #expect(consul.tls?.caPEM == Array("hi".utf8))
        #expect(consul.tls?.insecureSkipVerify == true)
        #expect(consul.tls?.keyFile == "/k.pem")
        guard case .consulKV(let named) = try decode(.consulKV, #"{"address":"httpconsul:8500"}"#) else { Issue.record("wrong mode"); return }
        #expect(named.address?.host == "httpconsul")
    }

    @Test(arguments: [
        (#"{"address":"http://example.com:8500"}"#, "address", "without http:// or https://"),
        (#"{"scheme":"ftp"}"#, "scheme", #"expected "http" or "https", got "ftp""#),
        (#"{"token":"a","token_file":"/t"}"#, "token_file", "not both"),
        (#"{"tls_config":{"cafile":"/x"}}"#, "tls_config.cafile", #"did you mean "tls_config.ca_file"?"#),
        (#"{"tls_config":{"cert_file":"/c"}}"#, "tls_config.key_file", "needs both a certificate"),
        (#"{"tls_config":{"ca_pem":"not base64!"}}"#, "tls_config.ca_pem", "expected base64"),
        (#"{"tls_config":{"insecure_skip_verify":"yes"}}"#, "tls_config.insecure_skip_verify", "expected true or false"),
        (#"{"basic_auth":"u:p"}"#, "basic_auth", "expected a JSON object, got \"u:p\""),
    ])
    func consulErrors(text: String, field: String, fragment: String) throws {
        let error = try failure(.consulKV, text)
        #expect(error.field == field)
        #expect(error.message.contains(fragment), "\(error.message)")
    }

    // MARK: etcd-kv

    @Test func etcdFields() throws {
        let text = #"{"endpoints":["example.com:2379","https://e2:2379"],"username":"u","password":"p","dial-timeout":"5s","auto-sync-interval":30000000000,"backoff-jitter-fraction":0.1,"MaxCallSendMsgSize":1024}"#
        guard case .etcdKV(let etcd) = try decode(.etcdKV, text) else { Issue.record("wrong mode"); return }
        #expect(etcd.endpoints.map(\.url) == ["http://example.com:2379", "https://e2:2379"])
        #expect(etcd.dialTimeout == .seconds(5))
        #expect(etcd.autoSyncInterval == .seconds(30))
        #expect(etcd.backoffJitterFraction == 0.1)
        #expect(etcd.maxCallSendMessageSize == 1024)
        #expect(try decode(.etcdKV, "{}") == .etcdKV(EtcdKVConfig()))
    }

    @Test(arguments: [
        (#"{"endpoints":"example.com:2379"}"#, "endpoints", "expected an array of strings"),
        (#"{"endpoints":[]}"#, "endpoints", "at least one endpoint"),
        (#"{"endpoints":["a:1",2]}"#, "endpoints", "element 1: expected a string, got 2"),
        (#"{"endpoints":["nohost"]}"#, "endpoints", "element 0: invalid address"),
        (#"{"dial-timeout":"5 seconds"}"#, "dial-timeout", "expected a duration such as"),
        (#"{"dial-timeout":30000}"#, "dial-timeout", "30µs is too short"),
        (#"{"dial-timeout":"-1s"}"#, "dial-timeout", "must not be negative"),
        (#"{"dial-timeout":true}"#, "dial-timeout", "got true"),
        (#"{"password":"p"}"#, "username", "a password needs a username"),
        (#"{"backoff-jitter-fraction":2}"#, "backoff-jitter-fraction", "from 0 to 1"),
        (#"{"ca-file":"/x"}"#, "ca-file", "Valid fields are: endpoints,"),
    ])
    func etcdErrors(text: String, field: String, fragment: String) throws {
        let error = try failure(.etcdKV, text)
        #expect(error.field == field)
        #expect(error.message.contains(fragment), "\(error.message)")
    }

    @Test func base64Decoding() {
        #expect(Base64.decode("") == [])
        #expect(Base64.decode("Zg==") == Array("f".utf8))
        #expect(Base64.decode("Zm8=") == Array("fo".utf8))
        #expect(Base64.decode("Zm9v") == Array("foo".utf8))
        #expect(Base64.decode("Zm9") == nil)
        #expect(Base64.decode("Z=9v") == nil)
        #expect(Base64.decode("Zm9v====") == nil)
    }
}
