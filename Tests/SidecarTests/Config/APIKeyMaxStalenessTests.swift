import DiscoCore
import Sidecar
import Testing

// MARK: - -api-key-max-staleness

/// How long a node may go without word from the Raft leader before its sidecar refuses keyed
/// requests its own upstream serves: by default the node's four election timeouts (nil here), a
/// Go duration, or 0 for never; anything else exits 2 naming the flag and a right value.
@Suite("Sidecar: -api-key-max-staleness, the bound on a keyed read's staleness")
struct APIKeyMaxStalenessTests {
    func parse(_ arguments: [String]) throws(FlagError) -> ProxyConfiguration {
        try SidecarFlagParsing.configuration(arguments)
    }

    @Test func defaultIsTheNodesBoundAndADurationOrZeroIsTaken() throws {
        #expect(try parse([]).apiKeys.maxStaleness == nil)
        #expect(try parse(["-api-key-max-staleness", "10s"]).apiKeys.maxStaleness == .seconds(10))
        #expect(try parse(["-api-key-max-staleness=1m30s"]).apiKeys.maxStaleness == .seconds(90))
        #expect(try parse(["-api-key-max-staleness", "0"]).apiKeys.maxStaleness == .zero)
        #expect(try parse(["-api-key-max-staleness", "0s"]).apiKeys.maxStaleness == .zero)
    }

    @Test("a bad value names the flag and a right one", arguments: ["soon", "5", "-1s", ""])
    func badValuesAreRefused(value: String) throws {
        let error = try #require(SidecarFlagParsing.failure(["-api-key-max-staleness", value]), "\(value.debugDescription) was accepted")
        #expect(error.flag == "api-key-max-staleness", "\(error)")
        #expect(error.description.contains("-api-key-max-staleness"), "\(error)")
        #expect(error.description.contains("such as 5s"), "\(error)")
    }

    @Test func givenOnce() throws {
        let error = try #require(SidecarFlagParsing.failure(["-api-key-max-staleness", "2s", "-api-key-max-staleness", "3s"]))
        #expect(error.code == .givenTwice, "\(error)")
    }

    /// `api_keys` in `-proxy-config` replaces the key settings of the flags; it has no staleness
    /// bound of its own, so the flag's is kept.
    @Test func keptWhenTheProxyConfigSetsAPIKeys() throws {
        let configuration = try parse(["-api-key-max-staleness", "7s", "-proxy-config", #"{"api_keys": {"methods": ["GET"]}}"#])
        #expect(configuration.apiKeys.maxStaleness == .seconds(7))
        #expect(configuration.apiKeys.methods == .only(["GET"]))
        #expect(configuration.apiKeys.enabled)
    }
}
