import Testing
@testable import DiscoCLI
import DiscoCore
import NodeRuntime

@Suite struct DiscodOptionsTests {
    /// No files exist and the environment is fixed, so tests do not depend on the machine.
    let loader = DiscoConfigLoader(environment: { ["DNS_NAME": "disco.local"][$0] }, readFile: { _ in nil })

    func parse(_ line: String) throws(FlagError) -> DiscodOptions {
        try DiscodOptions.parse(line.split(separator: " ").map(String.init), loader: loader)
    }

    func failure(_ arguments: [String]) -> FlagError? {
        do {
            _ = try DiscodOptions.parse(arguments, loader: loader)
            return nil
        } catch {
            return error
        }
    }

    func failure(_ line: String) -> FlagError? { failure(line.split(separator: " ").map(String.init)) }

    // MARK: Seed command lines (rqlited replaced by discod), verbatim

    @Test func seedAutomaticBootstrap() throws {
        let options = try parse("-node-id 1 -http-addr=127.0.0.1:4001 -raft-addr=127.0.0.1:4002 -bootstrap-expect 3 -join http://h1:4001,http://h2:4001,http://h3:4001 data")
        #expect(options.nodeID == "1")
        #expect(options.httpAddress == PeerAddress(host: "127.0.0.1", port: 4001))
        #expect(options.httpAdvertisedAddress == options.httpAddress)
        #expect(options.raftAdvertisedAddress == PeerAddress(host: "127.0.0.1", port: 4002))
        #expect(options.bootstrapExpect == 3)
        #expect(options.join.map(\.url) == ["http://h1:4001", "http://h2:4001", "http://h3:4001"])
        #expect(options.dataDirectory == "data")
        #expect(options.formationPlan == .bootstrapExpect)
    }

    @Test func seedDockerStyle() throws {
        let options = try parse("-bootstrap-expect 3 -join http://h1:4001,http://h2:4001,http://h3:4001 /rqlite/file/data")
        #expect(options.nodeID == "localhost:4002")
        #expect(!options.nodeIDWasGiven)
    }

    @Test func seedDNS() throws {
        let options = try DiscodOptions.parse(["-node-id", "n1", "-http-addr=h1:4001", "-raft-addr=h1:4002",
                                               "-disco-mode=dns", #"-disco-config={"name":"rqlite.local"}"#, "-bootstrap-expect", "3", "data"],
                                              loader: loader)
        #expect(options.discoConfig == .dns(DNSConfig(name: "rqlite.local")))
        #expect(options.formationPlan == .bootstrapExpect)
    }

    @Test func seedDNSSRV() throws {
        let options = try DiscodOptions.parse(["-node-id", "n1", "-http-addr=h1:4001", "-raft-addr=h1:4002", "-disco-mode=dns-srv",
                                               #"-disco-config={"name":"rqlite.local","service":"rqlite-svc"}"#, "-bootstrap-expect", "3", "data"],
                                              loader: loader)
        guard case .dnsSRV(let srv) = options.discoConfig else { Issue.record("wrong config"); return }
        #expect(srv.queryName == "_rqlite-svc._tcp.rqlite.local")
    }

    @Test(arguments: [
        ("consul-kv", #"{"address":"example.com:8500"}"#),
        ("etcd-kv", #"{"endpoints":["example.com:2379"]}"#),
    ])
    func seedKeyValueModes(mode: String, config: String) throws {
        let options = try DiscodOptions.parse(["-node-id", "id1", "-http-addr=h1:4001", "-raft-addr=h1:4002", "-disco-mode", mode,
                                               "-disco-config", config, "data"], loader: loader)
        #expect(options.discoMode?.rawValue == mode)
        #expect(options.discoKey == "disco")
        #expect(options.formationPlan == .keyValueRegistration)
    }

    @Test func defaults() throws {
        let options = try parse("data")
        #expect(options.httpAddress.description == "localhost:4001")
        #expect(options.raftAddress.description == "localhost:4002")
        #expect(options.joinAttempts == 5)
        #expect(options.joinInterval == .seconds(3))
        #expect(options.bootstrapExpectTimeout == .seconds(120))
        #expect(options.clusterName == "disco")
        #expect(options.logLevel == .info)
        #expect(options.logFormat == .text)
        #expect(options.formationPlan == .singleNode)
        #expect(options.discoConfig == nil)
        #expect(options.eventsRetain == 100_000)
        #expect(options.eventsRetainBytes == 64 << 20)
        #expect(!options.validateOnly)
    }

    @Test func validateIsAnOrdinaryFlagCheckedLikeTheRest() throws {
        let options = try parse("-validate -node-id 1 -bootstrap-expect 3 -join h1:4001,h2:4001,h3:4001 data")
        #expect(options.validateOnly)
        #expect(options.formationPlan == .bootstrapExpect)
        // -validate does not relax any rule: the same mistakes fail the same way.
        #expect(failure("-validate -bootstrap-expect 3 data")?.flag == "bootstrap-expect")
        #expect(failure("-validate")?.message.contains("missing required argument: data directory") == true)
        #expect(failure("-validate=maybe data")?.flag == "validate")
    }

    @Test func eventRetentionFlags() throws {
        let options = try parse("-events-retain 0 -events-retain-bytes 512KiB data")
        #expect(options.eventsRetain == 0)
        #expect(options.eventsRetainBytes == 512 << 10)
        #expect(try parse("-events-retain-bytes=2GB data").eventsRetainBytes == 2_000_000_000)
        #expect(try parse("-events-retain-bytes=4096 data").eventsRetainBytes == 4096)
    }

    @Test func environmentExpandsInDiscoConfig() throws {
        let options = try DiscodOptions.parse(["-http-addr=h1:4001", "-raft-addr=h1:4002", "-disco-mode=dns",
                                               #"-disco-config={"name":"$DNS_NAME"}"#, "-raft-non-voter", "data"], loader: loader)
        #expect(options.discoConfig == .dns(DNSConfig(name: "disco.local")))
        #expect(options.raftNonVoter)
    }

    // MARK: Errors naming the flag

    @Test(arguments: [
        ("-bootsrap-expect 3 data", "bootsrap-expect", "flag provided but not defined: -bootsrap-expect; did you mean -bootstrap-expect?"),
        ("-http-addr", "http-addr", "flag needs an argument: -http-addr"),
        ("-bootstrap-expect-timeout=abc data", "bootstrap-expect-timeout", #"invalid value "abc" for flag -bootstrap-expect-timeout: expected a duration such as 300ms, 1.5s or 2m"#),
        ("-http-addr http://h:4001 data", "http-addr", "without http:// or https://"),
        ("-raft-addr h:port data", "raft-addr", "is not a number from 1 to 65535"),
        ("-disco-mode zookeeper data", "disco-mode", "disco mode must be one of dns, dns-srv, consul-kv, etcd-kv"),
        ("-log-level loud data", "log-level", "expected one of trace, debug"),
        ("-log-format xml data", "log-format", "expected text or json"),
        ("-join h1 data", "join", "missing port"),
        ("-join-attempts 0 data", "join-attempts", "must be at least 1"),
        ("-bootstrap-expect -1 -join h:1 data", "bootstrap-expect", "must be 0 (off)"),
        ("-bootstrap-expect-timeout 0 data", "bootstrap-expect-timeout", "must be positive"),
        ("-http-addr h:1 -raft-addr h:1 data", "raft-addr", "-http-addr and -raft-addr must differ"),
        // Given but empty (an unset variable), as -gossip-key: it silently meant no TLS or no -auth.
        ("-http-cert= -http-key= data", "http-cert", "-http-cert: the path is empty (an unset variable?); give the file, or drop -http-cert for plain HTTP"),
        ("-http-cert=c.pem -http-key= data", "http-key", "-http-key: the path is empty"),
        ("-http-cert=c.pem -http-key=k.pem -http-ca-cert= data", "http-ca-cert", "-http-ca-cert: the path is empty"),
        ("-node-cert= -node-key= data", "node-cert", "-node-cert: the path is empty"),
        ("-node-cert=c.pem -node-key= data", "node-key", "-node-key: the path is empty"),
        ("-node-ca-cert= data", "node-ca-cert", "-node-ca-cert: the path is empty"),
        ("-auth= data", "auth", "-auth: the path is empty (an unset variable?); give the file, or drop -auth for an API open to anyone"),
        // A wildcard takes the port on every interface: the start would fail to bind.
        ("-http-addr 0.0.0.0:4001 -http-adv-addr h:4001 -raft-addr 127.0.0.1:4001 data", "raft-addr",
         "-http-addr 0.0.0.0:4001 and -raft-addr 127.0.0.1:4001 would both listen on port 4001"),
        ("-http-addr 0.0.0.0:4001 data", "http-adv-addr", "advertised HTTP address 0.0.0.0:4001 is not routable (it defaults to -http-addr)"),
        ("-raft-adv-addr [::]:4002 data", "raft-adv-addr", "advertised Raft address [::]:4002 is not routable;"),
        // Other spellings of the unspecified addresses (rqlite: net.IP.IsUnspecified) were advertised.
        ("-raft-adv-addr [::0]:4002 data", "raft-adv-addr", "advertised Raft address [::0]:4002 is not routable;"),
        ("-http-adv-addr [0:0::0]:4001 data", "http-adv-addr", "advertised HTTP address [0:0::0]:4001 is not routable;"),
        ("-http-adv-addr [::ffff:0.0.0.0]:4001 data", "http-adv-addr", "is not routable;"),
        ("-http-adv-addr h:9 -raft-adv-addr h:9 data", "raft-adv-addr", "advertised HTTP and Raft addresses must differ"),
        ("-bootstrap-expect 3 -raft-non-voter -join h:1 data", "bootstrap-expect", "applies only to voting nodes"),
        ("-join h:1 -disco-mode dns data", "join", "-join cannot be used with -disco-mode dns"),
        ("-join http://localhost:4001,h2:4001 data", "join", "node cannot join itself unless bootstrapping"),
        ("-disco-mode consul-kv -bootstrap-expect 3 data", "bootstrap-expect", "not used with -disco-mode consul-kv"),
        ("-disco-mode etcd-kv -bootstrap-expect 1 data", "bootstrap-expect", "not used with -disco-mode etcd-kv"),
        ("-disco-mode dns data", "bootstrap-expect", "-disco-mode dns needs -bootstrap-expect on a voting node"),
        ("-disco-mode dns-srv data", "bootstrap-expect", "-disco-mode dns-srv needs -bootstrap-expect"),
        ("-bootstrap-expect 3 data", "bootstrap-expect", "needs -join or -disco-mode dns/dns-srv"),
        ("-disco-config {} data", "disco-config", "-disco-config needs -disco-mode"),
        ("-disco-mode dns -bootstrap-expect 3 data", "disco-config", "disco mode dns needs -disco-config"),
        ("-node-id a\tb data", "node-id", "not a valid node ID"),
        ("-node-id (cluster-name) data", "node-id", "\"(cluster-name)\" is reserved"),
        ("-disco-key /x data", "disco-key", "not a valid key prefix"),
        ("-events-retain -1 data", "events-retain", "must be 0 (no count limit) or the number of events to keep"),
        ("-events-retain-bytes 64mb data", "events-retain-bytes", #""64mb" is not a size; write a whole number of bytes with an optional unit, e.g. 65536, 512KiB, 64MiB or 1GiB"#),
        ("-events-retain-bytes -5 data", "events-retain-bytes", "is not a size"),
        ("-events-retain-bytes 99999999999GiB data", "events-retain-bytes", "is too large"),
        ("-http-cert c.pem data", "http-key", "-http-cert needs -http-key"),
        ("-http-key k.pem data", "http-cert", "-http-key needs -http-cert"),
        ("-http-verify-client data", "http-verify-client", "needs TLS: set -http-cert and -http-key"),
        ("-http-cert c -http-key k -http-verify-client data", "http-verify-client", "needs -http-ca-cert"),
        ("-node-cert c data", "node-key", "-node-cert needs -node-key"),
        ("-node-cert c -node-key k -node-verify-client data", "node-verify-client", "needs -node-ca-cert"),
        ("-node-no-verify data", "node-no-verify", "set -node-cert and -node-key as well"),
        ("-node-ca-cert ca data", "node-ca-cert", "set -node-cert and -node-key as well"),
    ])
    func rejectsWithFlagNamed(line: String, flag: String, fragment: String) throws {
        let error = try #require(failure(line))
        #expect(error.flag == flag)
        #expect(error.message.contains(fragment), "\(error.message)")
        #expect(error.exitStatus == 2)
    }

    @Test func tlsFilesAreKeptAsGiven() throws {
        let options = try parse("-http-cert a.pem -http-key a.key -http-ca-cert ca.pem -http-verify-client "
            + "-node-cert n.pem -node-key n.key -node-ca-cert nca.pem -node-no-verify data")
        #expect(options.httpTLS == TLSFiles(certificate: "a.pem", key: "a.key", caCertificate: "ca.pem", verifyClient: true))
        #expect(options.nodeTLS == TLSFiles(certificate: "n.pem", key: "n.key", caCertificate: "nca.pem", verifyClient: false))
        #expect(options.nodeNoVerify)
        #expect(options.metadata["http_tls"] == "mutual")
        #expect(options.metadata["node_tls"] == "on, peers not verified")
        // -http-ca-cert alone: the CA for other nodes' HTTPS APIs (a plain API joining https:// nodes).
        let clientOnly = try parse("-http-ca-cert ca.pem data")
        #expect(!clientOnly.httpTLS.isEnabled && clientOnly.httpTLS.caCertificate == "ca.pem")
        #expect(try parse("data").httpTLS == TLSFiles())
    }

    @Test func hostNamesMayStartWithHTTP() throws {
        let options = try parse("-http-addr httpd.local:4001 -raft-addr httpd.local:4002 data")
        #expect(options.httpAddress.host == "httpd.local")
        #expect(failure("-http-adv-addr https://h:1 data")?.message.contains("without http:// or https://") == true)
    }

    @Test func nonVoterMayUseDNSWithoutExpect() throws {
        let options = try DiscodOptions.parse(["-disco-mode", "dns", #"-disco-config={"name":"n"}"#, "-raft-non-voter", "data"], loader: loader)
        #expect(options.raftNonVoter)
    }

    @Test func selfJoinIsFineWhenBootstrapping() throws {
        #expect(throws: Never.self) { try parse("-bootstrap-expect 2 -join localhost:4001,h2:4001 data") }
    }

    @Test func discoConfigErrorsKeepDetail() throws {
        let unknown = try #require(failure(["-disco-mode", "dns", "-bootstrap-expect", "3", "-disco-config", #"{"name":"a","prot":1}"#, "data"]))
        #expect(unknown.message == #"invalid value for flag -disco-config: disco-config for dns: unknown field "prot"; did you mean "port"? Valid fields are: name, port, nameserver"#)
        let quoted = try #require(failure(["-disco-mode", "dns", "-bootstrap-expect", "3", "-disco-config", #"'{"name":"a"}'"#, "data"]))
        #expect(quoted.message.contains("at line 1, column 1"))
        #expect(quoted.message.contains("the shell did not remove them"))
    }

    /// consul-kv reads Consul's CONSUL_* variables for what -disco-config leaves out; a bad one is
    /// named as the variable, not blamed on a flag that may not even be given.
    @Test func aBadConsulVariableIsNamedAsTheVariable() throws {
        let environment = DiscoConfigLoader(environment: { ["CONSUL_HTTP_ADDR": "unix:///var/run/consul.sock"][$0] }, readFile: { _ in nil })
        let error: FlagError
        do {
            _ = try DiscodOptions.parse(["-disco-mode", "consul-kv", "data"], loader: environment)
            Issue.record("a CONSUL_HTTP_ADDR with a unix:// address was accepted")
            return
        } catch let thrown {
            error = thrown
        }
        #expect(error.code == .invalidValue)
        #expect(error.message.hasPrefix("environment variable CONSUL_HTTP_ADDR"), "\(error.message)")
        #expect(!error.message.contains("flag -disco-config"), "\(error.message)")
    }

    // MARK: Positional arguments

    @Test func missingDataDirectory() throws {
        let error = try #require(failure("-node-id 1"))
        #expect(error.code == .badArguments)
        #expect(error.message.contains("missing required argument: data directory"))
    }

    @Test func argumentsAfterDataDirectory() throws {
        let error = try #require(failure("data -node-id 1"))
        #expect(error.message == "arguments after data directory (-node-id 1) are not accepted; flags must come before the data directory")
        let plain = try #require(failure("data other"))
        #expect(plain.message == "arguments after data directory (other) are not accepted")
    }

    /// `-raft-non-voter false data`: "false" became the data directory, and the error only said
    /// that "data" came after it.
    @Test func aBooleanValueAfterABooleanFlagIsExplained() throws {
        let error = try #require(failure("-raft-non-voter false data"))
        #expect(error.message.contains(#""false" was taken as the data directory"#), "\(error.message)")
        #expect(error.message.contains("-raft-non-voter=false"), "\(error.message)")
    }

    @Test func helpIsNotAnError() throws {
        let error = try #require(failure("-h"))
        #expect(error.code == .helpRequested)
        let usage = DiscodFlags().flagSet.usage()
        for heading in ["Node:", "Cluster formation:", "Discovery:", "Logging:", "Checking:"] {
            #expect(usage.contains("\n\(heading)\n"))
        }
        #expect(usage.contains("  -bootstrap-expect-timeout duration\n    How long a new node waits for -bootstrap-expect voters "
                               + "before it exits 1\n    (with -consensus etcd, waiting for etcd counts; a node that already has state,\n"
                               + "    or with etcd records that it is a member, never exits for this) (default 2m0s)"))
        #expect(usage.contains(#"(default "localhost:4001")"#))
        // -join-as said the node sends its credentials "on join, notify and remove"; a node never
        // removes anyone, while it does send them with bootstrap requests and its roles' writes.
        #expect(usage.contains("  -join-as user\n    User in the -auth file whose credentials this node sends to other nodes: its join,\n"
                               + "    notify and bootstrap requests and its roles' writes to the leader"), "\(usage)")
        #expect(!usage.contains("notify and remove"), "\(usage)")
    }

    @Test func metadataForTheStartupLog() throws {
        let options = try parse("-node-id 1 -bootstrap-expect 2 -join h1:4001,h2:4001 data")
        #expect(options.metadata["node_id"] == "1")
        #expect(options.metadata["join"] == ["h1:4001", "h2:4001"])
        #expect(options.metadata["formation"] == "bootstrap-expect")
    }
}

// MARK: - Membership flags

extension DiscodOptionsTests {
    /// A 256-byte -cluster-name passed -validate, then the start failed (exit 1) with "invalid
    /// node configuration: cluster.name": the cluster's records hold at most 255 bytes.
    @Test func clusterNameLongerThanTheRecordsHoldIsRefused() throws {
        #expect(DiscodOptions.maxClusterNameBytes == ClusterLimits.maxNameBytes)
        let longest = String(repeating: "c", count: ClusterLimits.maxNameBytes)
        let options = try parse("-cluster-name \(longest) data")
        #expect(throws: Never.self) { try options.nodeConfiguration.validate() }
        let error = try #require(failure("-cluster-name \(longest)c data"))
        #expect(error.flag == "cluster-name")
        #expect(error.message.contains("at most 255 bytes"), "\(error.message)")
    }

    /// A 256-byte -node-id (NodeID allows 256) started, but the cluster's member record holds
    /// at most 255 bytes: the node's record was never written (no "member added", generation
    /// null in /nodes), silently.
    @Test func nodeIDLongerThanTheRecordsHoldIsRefused() throws {
        let longest = String(repeating: "n", count: ClusterLimits.maxNameBytes)
        #expect(try parse("-node-id \(longest) data").nodeID.rawValue == longest)
        let error = try #require(failure("-node-id \(longest)n data"))
        #expect(error.flag == "node-id")
        #expect(error.message.contains("at most 255 bytes"), "\(error.message)")
        var configuration = try parse("-node-id n1 data").nodeConfiguration
        configuration.nodeID = try #require(NodeID(longest + "n"))
        #expect(throws: NodeConfigurationError.self) { try configuration.validate() }
    }

    @Test func reapLearnerTimeoutDefaultsToAnHourAndAcceptsZero() throws {
        #expect(try parse("data").reapLearnerTimeout == .seconds(3600))
        #expect(try parse("-reap-learner-timeout 0 data").reapLearnerTimeout == .zero)
        #expect(try parse("-reap-learner-timeout 90s data").reapLearnerTimeout == .seconds(90))
    }

    @Test func reapLearnerTimeoutBelowASecondIsRefused() {
        let error = failure("-reap-learner-timeout 500ms data")
        #expect(error?.flag == "reap-learner-timeout")
        #expect(error?.message.contains("must be 0 (never reap) or at least 1s, got 500ms") == true)
        #expect(failure("-reap-learner-timeout -1s data")?.flag == "reap-learner-timeout")
    }

    @Test func eventsCursorIdleDefaultsToAnHourAndReachesTheNodeConfiguration() throws {
        #expect(try parse("data").nodeConfiguration.timing.cursorIdleDeletion == .seconds(3600))
        #expect(try parse("-events-cursor-idle 0 data").nodeConfiguration.timing.cursorIdleDeletion == .zero)
        #expect(try parse("-events-cursor-idle 10m data").nodeConfiguration.timing.cursorIdleDeletion == .seconds(600))
    }

    @Test func aNegativeEventsCursorIdleIsRefusedNamingTheFlag() {
        let error = failure("-events-cursor-idle -1s data")
        #expect(error?.flag == "events-cursor-idle")
        #expect(error?.message.contains("must be 0 (keep every cursor) or a duration such as 1h, got -1s") == true, "\(error?.message ?? "")")
    }
}

// MARK: - Access control flags

extension DiscodOptionsTests {
    func loader(files: [String: String]) -> DiscoConfigLoader {
        DiscoConfigLoader(environment: { _ in nil }, readFile: { path in files[path].map { Array($0.utf8) } })
    }

    @Test func authFileAndJoinAsAreRead() throws {
        let files = ["/etc/disco/auth.json": #"[{"username":"node","password":"pw","perms":["join","remove"]},{"username":"*","perms":["ready"]}]"#]
        let options = try DiscodOptions.parse(["-auth", "/etc/disco/auth.json", "-join-as", "node", "data"], loader: loader(files: files))
        #expect(options.auth?.users.count == 2)
        #expect(options.joinAs?.username == "node")
        #expect(options.metadata["join_as"] == .string("node"))
    }

    @Test func badAuthFilesExitBeforeTheDataDirectoryNamingTheEntry() {
        let files = [
            "bad.json": #"[{"username":"node","password":"pw","perms":["jion"]}]"#,
            "hashed.json": #"[{"username":"node","password":"$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA","perms":["join"]}]"#,
        ]
        func failure(_ arguments: [String]) -> FlagError? {
            do {
                _ = try DiscodOptions.parse(arguments, loader: loader(files: files))
                return nil
            } catch {
                return error
            }
        }
        let bad = failure(["-auth", "bad.json", "data"])
        #expect(bad?.flag == "auth")
        #expect(bad?.exitStatus == 2)
        #expect(bad?.message.contains(#"auth file "bad.json", entry 1 ("node"): "perms" has an unknown permission "jion"; use only all, join"#) == true,
                "\(String(describing: bad))")
        #expect(failure(["-auth", "missing.json", "data"])?.message.contains("does not exist") == true)
        #expect(failure(["-join-as", "node", "data"])?.flag == "join-as")
        #expect(failure(["-auth", "bad.json", "-join-as", "node", "data"])?.flag == "auth")
        let unknown = failure(["-auth", "hashed.json", "-join-as", "other", "data"])
        #expect(unknown?.message.contains(#"user "other" is not in the auth file"#) == true)
        let hashed = failure(["-auth", "hashed.json", "-join-as", "node", "data"])
        #expect(hashed?.message.contains("stores a hash for user \"node\"") == true, "\(String(describing: hashed))")
    }
}
