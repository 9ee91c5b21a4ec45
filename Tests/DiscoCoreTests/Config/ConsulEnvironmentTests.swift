import Testing
@testable import DiscoCore

/// consul-kv settings that disco-config leaves out come from Consul's `CONSUL_*` environment
/// variables, as rqlite's Consul client (`api.NewClient` over `api.DefaultConfig`) takes them.
@Suite struct ConsulEnvironmentTests {
    func consul(_ text: String?, _ environment: [String: String]) throws -> ConsulKVConfig {
        let loader = DiscoConfigLoader(environment: { environment[$0] }, readFile: { _ in nil })
        guard case .consulKV(let config) = try loader.config(text ?? "", mode: .consulKV) else {
            Issue.record("not a consul-kv config")
            return ConsulKVConfig()
        }
        return config
    }

    func failure(_ text: String?, _ environment: [String: String]) throws -> ConfigError {
        do {
            _ = try consul(text, environment)
        } catch let error as ConfigError {
            return error
        }
        Issue.record("expected \(environment) to be refused")
        return ConfigError(code: .syntax, field: nil, message: "")
    }

    @Test func withoutConfigTheVariablesGiveTheAgentTokenAndAuth() throws {
        let config = try consul(nil, ["CONSUL_HTTP_ADDR": "consul.example:8500", "CONSUL_HTTP_TOKEN": "t0k",
                                      "CONSUL_HTTP_AUTH": "user:pa:ss", "CONSUL_NAMESPACE": "ns", "CONSUL_PARTITION": "p"])
        #expect(config.address == PeerAddress(host: "consul.example", port: 8500))
        #expect(config.effectiveScheme == .http)
        #expect(config.token == "t0k")
        #expect(config.basicAuth == ConsulKVConfig.BasicAuth(username: "user", password: "pa:ss"))
        #expect(config.namespace == "ns")
        #expect(config.partition == "p")
        #expect(config.tls == nil)
    }

    @Test func withoutVariablesNothingChanges() throws {
        #expect(try consul(nil, [:]) == ConsulKVConfig())
        #expect(try consul(#"{"address":"a:1"}"#, ["CONSUL_HTTP_ADDR": ""]).address == PeerAddress(host: "a", port: 1))
    }

    @Test func disconfigWinsOverEveryVariable() throws {
        let config = try consul(#"{"address":"mine:8500","token":"mine","namespace":"mine","basic_auth":{"username":"me"}}"#,
                                ["CONSUL_HTTP_ADDR": "theirs:8500", "CONSUL_HTTP_TOKEN": "theirs", "CONSUL_HTTP_TOKEN_FILE": "/theirs",
                                 "CONSUL_NAMESPACE": "theirs", "CONSUL_HTTP_AUTH": "them:x"])
        #expect(config.address == PeerAddress(host: "mine", port: 8500))
        #expect(config.token == "mine")
        #expect(config.tokenFile == nil)
        #expect(config.namespace == "mine")
        #expect(config.basicAuth?.username == "me")
    }

    @Test func aTokenFileIsPreferredAndAnEmptyTokenCountsAsUnset() throws {
        let both = try consul(#"{"token":""}"#, ["CONSUL_HTTP_TOKEN_FILE": "/run/token", "CONSUL_HTTP_TOKEN": "t"])
        #expect(both.tokenFile == "/run/token")
        #expect(both.token == "t")
        let configured = try consul(#"{"token_file":"/mine"}"#, ["CONSUL_HTTP_TOKEN": "t"])
        #expect(configured.tokenFile == "/mine")
        #expect(configured.token == nil)
    }

    @Test func httpsInTheAddressOrSSLTurnTLSOnWithTheTLSVariables() throws {
        let tlsVariables = ["CONSUL_CACERT": "/ca.pem", "CONSUL_CAPATH": "/cas", "CONSUL_CLIENT_CERT": "/c.pem",
                            "CONSUL_CLIENT_KEY": "/k.pem", "CONSUL_TLS_SERVER_NAME": "consul.internal", "CONSUL_HTTP_SSL_VERIFY": "false"]
        for turnOn in [["CONSUL_HTTP_ADDR": "https://consul.example:8501"], ["CONSUL_HTTP_ADDR": "consul.example:8501", "CONSUL_HTTP_SSL": "true"]] {
            let config = try consul(nil, tlsVariables.merging(turnOn) { $1 })
            #expect(config.address == PeerAddress(host: "consul.example", port: 8501))
            #expect(config.effectiveScheme == .https)
            #expect(config.tls?.caFile == "/ca.pem")
            #expect(config.tls?.caPath == "/cas")
            #expect(config.tls?.certFile == "/c.pem")
            #expect(config.tls?.keyFile == "/k.pem")
            #expect(config.tls?.insecureSkipVerify == true)
            #expect(config.clientTLS?.serverName == "consul.internal")
        }
    }

    @Test func theTLSVariablesAloneDoNotTurnTLSOn() throws {
        let config = try consul(#"{"address":"consul.example:8500"}"#, ["CONSUL_CACERT": "/ca.pem"])
        #expect(config.effectiveScheme == .http)
        #expect(config.tls == nil)
        let plain = try consul(#"{"scheme":"http"}"#, ["CONSUL_HTTP_SSL": "1", "CONSUL_CACERT": "/ca.pem"])
        #expect(plain.effectiveScheme == .http)
    }

    @Test func aConfiguredTLSConfigKeepsItsFieldsAndTakesTheRest() throws {
        let config = try consul(#"{"tls_config":{"ca_file":"/mine.pem"}}"#, ["CONSUL_CACERT": "/theirs.pem", "CONSUL_TLS_SERVER_NAME": "c"])
        #expect(config.effectiveScheme == .https)
        #expect(config.tls?.caFile == "/mine.pem")
        #expect(config.tls?.address == "c")
    }

    @Test(arguments: [
        (["CONSUL_HTTP_ADDR": "unix:///var/run/consul.sock"], "CONSUL_HTTP_ADDR", "unsupported scheme"),
        (["CONSUL_HTTP_ADDR": "consul.example"], "CONSUL_HTTP_ADDR", "missing port"),
        (["CONSUL_HTTP_ADDR": "http://consul.example:8500/prefix"], "CONSUL_HTTP_ADDR", "a path is not allowed"),
        (["CONSUL_HTTP_SSL": "yes"], "CONSUL_HTTP_SSL", #"expected true or false, got "yes""#),
        (["CONSUL_HTTP_SSL": "true", "CONSUL_HTTP_SSL_VERIFY": "no"], "CONSUL_HTTP_SSL_VERIFY", "expected true or false"),
        (["CONSUL_HTTP_SSL": "true", "CONSUL_CLIENT_CERT": "/c.pem"], "CONSUL_CLIENT_KEY", "needs both a certificate"),
    ])
    func unusableVariablesAreErrorsNamingThem(environment: [String: String], variable: String, fragment: String) throws {
        let error = try failure(nil, environment)
        #expect(error.field == variable)
        #expect(error.message.contains("environment variable \(variable)"), "\(error.message)")
        #expect(error.message.contains(fragment), "\(error.message)")
    }

    @Test func otherModesIgnoreConsulsVariables() throws {
        let loader = DiscoConfigLoader(environment: { $0 == "CONSUL_HTTP_ADDR" ? "x:1" : nil }, readFile: { _ in nil })
        #expect(try loader.config("", mode: .etcdKV) == .etcdKV(EtcdKVConfig()))
    }
}
