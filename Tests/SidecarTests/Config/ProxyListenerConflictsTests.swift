import DiscoCore
import Sidecar
import Testing

/// A proxy listener on the port of the node's API, of its Raft port, or of another proxy
/// listener passed `-validate`, and the start then failed to bind: the clash is a flag error
/// naming both flags.
@Suite("Sidecar: listeners that would take the same port")
struct ProxyListenerConflictsTests {
    static let node = [(flag: "http-addr", address: PeerAddress(host: "127.0.0.1", port: 4001)),
                       (flag: "raft-addr", address: PeerAddress(host: "127.0.0.1", port: 4002))]

    func check(_ arguments: [String]) -> FlagError? {
        var set = FlagSet(programName: "disco-sidecar", synopsis: "")
        let flags = SidecarFlags(&set)
        do throws(FlagError) {
            let parsed = try set.parse(arguments + ["-upstream", "http://127.0.0.1:9984"])
            try flags.checkListeners(try flags.configuration(parsed, loader: ProxyConfigurationTests.loader), parsed: parsed, nodeListeners: Self.node)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        (["-proxy-addr", "127.0.0.1:4001"], "proxy-addr", "-http-addr 127.0.0.1:4001 and -proxy-addr 127.0.0.1:4001 would both listen on port 4001"),
        (["-proxy-addr", ":4001"], "proxy-addr", "-http-addr 127.0.0.1:4001 and -proxy-addr :4001"),
        (["-proxy-addr", "localhost:4002"], "proxy-addr", "-raft-addr 127.0.0.1:4002 and -proxy-addr localhost:4002"),
        (["-tcp-proxy", ":4002=127.0.0.1:27017"], "tcp-proxy", "-raft-addr 127.0.0.1:4002 and -tcp-proxy :4002"),
        (["-proxy-addr", ":8080", "-tcp-proxy", "127.0.0.1:8080=127.0.0.1:27017"], "tcp-proxy",
         "-proxy-addr :8080 and -tcp-proxy 127.0.0.1:8080 would both listen on port 8080"),
        (["-tcp-proxy", ":27017=127.0.0.1:1", "-tcp-proxy", "0.0.0.0:27017=127.0.0.1:2"], "tcp-proxy",
         "-tcp-proxy :27017 and -tcp-proxy 0.0.0.0:27017"),
        (["-tcp-proxy", ":27017=127.0.0.1:1", "-proxy-config", #"{"tcp_proxy": [{"listen": "127.0.0.1:27017", "upstream": "127.0.0.1:2"}]}"#],
         "proxy-config", "-tcp-proxy :27017 and -proxy-config tcp_proxy[0] 127.0.0.1:27017"),
        (["-proxy-config", #"{"tcp_proxy": [{"listen": ":27017", "upstream": "127.0.0.1:1"}, {"listen": ":27017", "upstream": "127.0.0.1:2"}]}"#],
         "proxy-config", "-proxy-config tcp_proxy[0] :27017 and -proxy-config tcp_proxy[1] :27017 would both listen"),
    ])
    func aSharedPortIsAFlagErrorNamingBoth(arguments: [String], flag: String, message: String) {
        let error = check(arguments)
        #expect(error?.flag == flag, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test(arguments: [
        ["-proxy-addr", "127.0.0.1:8080", "-tcp-proxy", "127.0.0.1:27017=127.0.0.1:1"],
        // Other addresses on one port can both listen.
        ["-proxy-addr", "127.0.0.2:4001", "-tcp-proxy", "127.0.0.3:4001=127.0.0.1:1"],
    ])
    func separatePortsPass(arguments: [String]) {
        #expect(check(arguments) == nil)
    }
}

extension ProxyListenerConflictsTests {
    /// Port 0 (the command line takes none, but a configuration built in code may): the system
    /// picks a free port for each listener, so none clashes.
    @Test func portZeroNeverClashes() throws {
        var set = FlagSet(programName: "disco-sidecar", synopsis: "")
        let flags = SidecarFlags(&set)
        var configuration = ProxyConfiguration(listenAddress: PeerAddress(host: "127.0.0.1", port: 0))
        configuration.tcpProxies = [TCPProxySpec(listen: PeerAddress(host: "0.0.0.0", port: 0), upstream: PeerAddress(host: "127.0.0.1", port: 1))]
        let node = [(flag: "http-addr", address: PeerAddress(host: "127.0.0.1", port: 0))]
        try flags.checkListeners(configuration, parsed: try set.parse([]), nodeListeners: node)
    }
}

// MARK: A listener that would connect to itself

extension ProxyListenerConflictsTests {
    /// `-tcp-proxy ':27017=127.0.0.1:27017'` (the README's own example, until now) listens on
    /// 127.0.0.1:27017 as well, so each connection opened another to the listener: one client
    /// filled the sidecar with about 10,000 connections until it ran out of descriptors. A
    /// listener whose upstream it would accept itself is a flag or config error naming the fix.
    @Test(arguments: [
        (["-tcp-proxy", ":27017=127.0.0.1:27017"], "tcp-proxy", ":27017=127.0.0.1:27017 would connect to itself"),
        (["-tcp-proxy", "[::]:27017=localhost:27017 max-conns=5"], "tcp-proxy", "would connect to itself"),
        (["-tcp-proxy", ":27017=[::1]:27017"], "tcp-proxy", "would connect to itself"),
        (["-tcp-proxy", "0.0.0.0:27017=127.0.0.2:27017"], "tcp-proxy", "would connect to itself"),
        (["-tcp-proxy", "10.1.2.3:27017=10.1.2.3:27017"], "tcp-proxy", "would connect to itself"),
        (["-tcp-proxy", "localhost:27017=127.0.0.1:27017"], "tcp-proxy", "would connect to itself"),
        (["-proxy-config", #"{"tcp_proxy": [{"listen": ":26656", "upstream": "127.0.0.1:26656"}]}"#], "proxy-config",
         "tcp_proxy[0].upstream"),
    ])
    func aListenerThatWouldConnectToItselfIsRefused(arguments: [String], flag: String, message: String) {
        let error = check(arguments)
        #expect(error?.flag == flag, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        #expect(error?.message.contains("$(POD_IP):") == true, "the message names the fix: \(String(describing: error))")
    }

    @Test(arguments: [
        ["-tcp-proxy", "10.1.2.3:27017=127.0.0.1:27017"],  // the pod's address to its own loopback
        ["-tcp-proxy", ":27017=10.1.2.4:27017"],  // every interface to another host
        ["-tcp-proxy", ":27017=127.0.0.1:27018"],  // another port
        ["-tcp-proxy", "127.0.0.1:27017=127.0.0.2:27017"],  // another loopback address
        // 0.0.0.0 takes IPv4 only: a connection to [::1] or [::] reaches another listener.
        ["-tcp-proxy", "0.0.0.0:27017=[::1]:27017"],
        ["-tcp-proxy", "0.0.0.0:27017=[::]:27017"],
    ])
    func listenersToAnotherAddressPass(arguments: [String]) {
        #expect(check(arguments) == nil)
    }

    /// `-proxy-addr :8080 -upstream http://127.0.0.1:8080`: each request was passed to the proxy
    /// again, about 270 hops (and as many pooled connections) until its head outgrew the limit.
    func checkWithoutDefaultUpstream(_ arguments: [String]) -> FlagError? {
        var set = FlagSet(programName: "disco-sidecar", synopsis: "")
        let flags = SidecarFlags(&set)
        do throws(FlagError) {
            let parsed = try set.parse(arguments)
            try flags.checkListeners(try flags.configuration(parsed, loader: ProxyConfigurationTests.loader), parsed: parsed, nodeListeners: Self.node)
            return nil
        } catch {
            return error
        }
    }

    @Test func anUpstreamTheProxyListensOnIsRefused() {
        let check = checkWithoutDefaultUpstream
        let error = check(["-proxy-addr", ":8080", "-upstream", "http://127.0.0.1:8080"])
        #expect(error?.flag == "upstream", "\(String(describing: error))")
        #expect(error?.message.contains("-upstream 127.0.0.1:8080 is an address -proxy-addr :8080 listens on itself") == true,
                "\(String(describing: error))")
        let json = check(["-proxy-addr", "127.0.0.1:8443", "-proxy-config", #"{"upstreams": {"api": "http://localhost:8443"}}"#])
        #expect(json?.flag == "proxy-config", "\(String(describing: json))")
        #expect(json?.message.contains(#"-proxy-config upstream "api""#) == true, "\(String(describing: json))")
        #expect(check(["-proxy-addr", "10.1.2.3:8080", "-upstream", "http://127.0.0.1:8080"]) == nil)
    }
}

// MARK: Listeners passing connections round, and names seen through

extension ProxyListenerConflictsTests {
    /// Two TCP listeners each passing connections to the other (or the HTTP proxy through a TCP
    /// listener back to itself) loop as one listener connecting to itself does: each was
    /// accepted, as neither reached its own listener.
    @Test(arguments: [
        (["-upstream", "http://127.0.0.1:9984", "-tcp-proxy", ":27017=127.0.0.1:27018", "-tcp-proxy", ":27018=localhost:27017"], "tcp-proxy",
         "-tcp-proxy :27017=127.0.0.1:27018 -> -tcp-proxy :27018=localhost:27017 -> -tcp-proxy :27017=127.0.0.1:27018: each passes"),
        (["-proxy-addr", "127.0.0.1:8080", "-upstream", "http://127.0.0.1:9000", "-tcp-proxy", "127.0.0.1:9000=127.0.0.1:8080"], "proxy-addr",
         "-proxy-addr 127.0.0.1:8080 -> -tcp-proxy 127.0.0.1:9000=127.0.0.1:8080 -> -proxy-addr 127.0.0.1:8080"),
        (["-upstream", "http://127.0.0.1:9984", "-tcp-proxy", ":1=127.0.0.1:2", "-proxy-config", #"{"tcp_proxy": [{"listen": ":2", "upstream": "127.0.0.1:3"}, {"listen": ":3", "upstream": "[::1]:1"}]}"#],
         "tcp-proxy", "-proxy-config tcp_proxy[1] :3=[::1]:1 -> -tcp-proxy :1=127.0.0.1:2"),
    ])
    func listenersPassingConnectionsRoundAreRefused(arguments: [String], flag: String, message: String) {
        let error = checkWithoutDefaultUpstream(arguments)
        #expect(error?.flag == flag, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test func listenersPassingConnectionsOnwardPass() {
        #expect(check(["-tcp-proxy", ":27017=127.0.0.1:27018", "-tcp-proxy", ":27018=10.1.2.4:27017"]) == nil)
        #expect(checkWithoutDefaultUpstream(["-proxy-addr", ":8080", "-upstream", "http://127.0.0.1:9000",
                                             "-tcp-proxy", "127.0.0.1:9000=10.1.2.4:8080"]) == nil)
    }

    /// The start resolves names (SidecarProxy's `SelfConnectionCheck.resolving`): whatever the
    /// check finds, the error names the flag, the upstream as written and the address it reaches.
    @Test func anUpstreamTheCheckSeesReachingItsListenerIsRefusedNamingTheAddress() throws {
        let check = SelfConnectionCheck { _, upstream, _ in upstream.host == "db.internal" ? "127.0.0.1:\(upstream.port)" : nil }
        func failure(_ arguments: [String]) throws -> FlagError? {
            var set = FlagSet(programName: "disco-sidecar", synopsis: "")
            let flags = SidecarFlags(&set)
            let parsed = try set.parse(arguments)
            do throws(FlagError) {
                try flags.checkListeners(try flags.configuration(parsed, loader: ProxyConfigurationTests.loader), parsed: parsed,
                                         nodeListeners: Self.node, selfConnections: check)
                return nil
            } catch {
                return error
            }
        }
        let tcp = try failure(["-upstream", "http://127.0.0.1:9984", "-tcp-proxy", ":27017=db.internal:27017"])
        #expect(tcp?.flag == "tcp-proxy", "\(String(describing: tcp))")
        #expect(tcp?.message.contains("-tcp-proxy :27017=db.internal:27017 would connect to itself: its upstream (db.internal:27017 is "
            + "127.0.0.1:27017) is an address the listener :27017 (every interface, IPv6 and IPv4) accepts") == true, "\(String(describing: tcp))")
        let config = try failure(["-upstream", "http://127.0.0.1:9984", "-proxy-config", #"{"tcp_proxy": [{"listen": ":27017", "upstream": "db.internal:27017"}]}"#])
        #expect(config?.flag == "proxy-config", "\(String(describing: config))")
        #expect(config?.message.contains("-proxy-config tcp_proxy[0] :27017=db.internal:27017 would connect to itself") == true,
                "\(String(describing: config))")
        let http = try failure(["-proxy-addr", ":8080", "-upstream", "http://db.internal:8080"])
        #expect(http?.flag == "upstream", "\(String(describing: http))")
        #expect(http?.message.contains("-upstream db.internal:8080 is an address -proxy-addr :8080 listens on itself (db.internal:8080 is "
            + "127.0.0.1:8080)") == true, "\(String(describing: http))")
        #expect(try failure(["-proxy-addr", ":8080", "-upstream", "http://api.internal:8080", "-tcp-proxy", ":27017=other.internal:27017"]) == nil)
    }
}
