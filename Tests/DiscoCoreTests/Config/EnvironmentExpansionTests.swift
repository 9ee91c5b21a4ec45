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

    // MARK: Requiring variables to be set

    func expandRequiringSet(_ text: String) -> Result<String, EnvironmentExpansionError> {
        Result { () throws(EnvironmentExpansionError) -> String in
            try EnvironmentExpansion.expandRequiringSet(text) { environment[$0] }
        }
    }

    @Test(arguments: [
        ("no variables", "no variables"), ("$HOST:${PORT}", "consul.local:8500"), ("$EMPTY|", "|"), ("$", "$"),
        ("$.", "$."), ("$$", "dollar"), ("${1}", "one"), ("é$HOSTé", "éconsul.localé"),
    ])
    func expandsSetVariablesAsGoDoes(input: String, expected: String) {
        #expect(expandRequiringSet(input) == .success(expected))
        #expect(expand(input) == expected)
    }

    // (input, variable, offset, message)
    @Test(arguments: [
        ("$UNSET", "UNSET", 0, "$UNSET is not set"),
        ("a${UNSET}b", "UNSET", 1, "${UNSET} is not set"),
        ("$HOSTx", "HOSTx", 0, "$HOSTx is not set"),
        ("$HOST:$PROT", "PROT", 6, "$PROT is not set"),
        ("pa$@word", "@", 2, "$@ is not set; $ cannot be escaped here: to write a literal $, set a variable to it"),
        ("$2", "2", 0, "$2 is not set; $ cannot be escaped here"),
    ])
    func namesTheUnsetVariable(input: String, variable: String, offset: Int, message: String) throws {
        guard case .failure(let error) = expandRequiringSet(input) else {
            Issue.record("\(input) expanded")
            return
        }
        #expect(error.variable == variable)
        #expect(error.offset == offset)
        #expect(error.message.hasPrefix(message), "\(error)")
    }

    @Test(arguments: [("a${}b", "${} at byte 1 names no variable"), ("x${HOST", "${ at byte 1 has no closing }")])
    func refusesMalformedBraces(input: String, message: String) {
        #expect(expandRequiringSet(input) == .failure(EnvironmentExpansionError(variable: nil, offset: 1, message: message)))
    }
}
