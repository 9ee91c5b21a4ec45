import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoSystem
import DiscoTestKit
import Testing

// MARK: - Members behind port mappings

/// A member that listens on one port and is reached through a mapping from another (a container
/// published with `-p 14002:4002/tcp -p 14002:4002/udp`, a NAT) advertises the mapped port:
/// gossip tells every member that port, and probes and push-pull go through the mapping.
@Suite struct AdvertisePortShellTests {
    @Test("members behind port mappings are gossiped at the mapped ports and reached through them")
    func gossipCarriesTheAdvertisedPort() async throws {
        var relays: [PortRelay] = []
        defer { for relay in relays { relay.stop() } }
        try await withShells { group in
            var shells: [SWIM.Shell] = []
            for index in 0..<3 {
                let port = try FreePort.loopback()
                let relay = try await PortRelay.start(to: port)
                relays.append(relay)
                let shell = try await group.start("m\(index)", port: port) { $0.advertisePort = relay.port }
                #expect(shell.address == PeerAddress(host: "127.0.0.1", port: relay.port))
                if let first = shells.first { try await shell.join(seeds: [first.address]) }
                shells.append(shell)
            }
            try await waitForConvergence(shells)
            for observer in shells {
                for (subject, relay) in zip(shells, relays) {
                    let address = await observer.member(subject.id)?.address
                    #expect(address == PeerAddress(host: "127.0.0.1", port: relay.port),
                            "\(observer.id) knows \(subject.id) at \(address.map { "\($0)" } ?? "nothing"), not at its mapping")
                }
            }
            // Every member is probed through its mapping; the joins' push-pull went through m0's.
            let mappings = relays
            try await waitUntil("every member to be probed through its mapping") {
                mappings.allSatisfy { $0.datagramsRelayed > 0 } && mappings[0].connectionsRelayed > 0
            }
        }
    }

    @Test("an advertised port of 0 is refused: nobody could reach it")
    func advertisedPortZeroIsRefused() async throws {
        var configuration = SWIM.Shell.Configuration(id: "z", advertisePort: 0)
        configuration.logger = Logger(label: "swim", level: .error, handler: LogfmtHandler())
        let error = await #expect(throws: SWIM.ConfigurationError.self) { _ = try await SWIM.Shell.start(configuration) }
        #expect(error?.field == "advertisePort")
    }
}
