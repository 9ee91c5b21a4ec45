import Testing
@testable import DiscoCore

@Suite struct EnvironmentExpansionTests {
    let environment: [String: String] = ["HOST": "consul.local", "PORT": "8500", "EMPTY": "", "A_1": "x", "$": "dollar", "1": "one"]

    func expand(_ text: String) -> String {
        EnvironmentExpansion.expand(text) { environment[$0] }
    }

    // Cases mirror Go's os.Expand behaviour.
    @Test(arguments: [
        ("no variables", "no variables"),
        ("$HOST:$PORT", "consul.local:8500"),
        ("${HOST}:${PORT}", "consul.local:8500"),
        ("${HOST}x", "consul.localx"),
        ("$HOSTx", ""),
        ("$UNSET", ""),
        ("a${UNSET}b", "ab"),
        ("$EMPTY|", "|"),
        ("$A_1.", "x."),
        ("$", "$"),
        ("a$", "a$"),
        ("$.", "$."),
        ("$ x", "$ x"),
        ("${}", ""),
        ("a${}b", "ab"),
        ("${HOST", "HOST"),
        ("$$", "dollar"),
        ("$1x", "onex"),
        ("${$}", "dollar"),
        ("${1}", "one"),
        ("$@", ""),
        ("{\"address\":\"$HOST:$PORT\"}", "{\"address\":\"consul.local:8500\"}"),
        ("é$HOSTé", "éconsul.localé"),
    ])
    func followsGoExpandEnv(input: String, expected: String) {
        #expect(expand(input) == expected)
    }
}
