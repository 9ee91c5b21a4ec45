import DiscoCore
import Testing

/// Role and consumer names: what is refused, and that the refusal does not echo a huge name whole.
struct RoleNamesTests {
    @Test func validNamesPassAndInvalidOnesAreNamed() {
        #expect(RoleNames.problem(with: "app-writer") == nil)
        #expect(RoleNames.problem(with: "Dns")?.contains("\"Dns\"") == true)
        #expect(EventConsumerNames.problem(with: "consumer-1") == nil)
        #expect(EventConsumerNames.problem(with: "a/b")?.contains("\"a/b\"") == true)
    }

    /// A name that is short but not ASCII is refused for its characters, not for a length it
    /// does not have (40 characters, 80 bytes), and one of 64 letters for its length.
    @Test func aNonASCIINameIsRefusedForItsCharacters() throws {
        let accented = try #require(RoleNames.problem(with: String(repeating: "é", count: 40)))
        #expect(accented.contains("must be lowercase letters, digits and '-'") && !accented.contains("characters long"), "\(accented)")
        let long = try #require(RoleNames.problem(with: String(repeating: "a", count: 64)))
        #expect(long.contains("must be 1 to 63 characters long"), "\(long)")
        #expect(RoleNames.problem(with: String(repeating: "a", count: 63)) == nil)
        #expect(RoleNames.problem(with: "")?.contains("must be 1 to 63 characters long") == true)
    }

    /// A name as long as a request body may be (`POST /events/ack` takes 8 MiB) is quoted by its
    /// start and its length, not echoed back whole.
    @Test(arguments: [1_000, 100_000]) func aLongNameIsQuotedByItsStartAndLength(length: Int) throws {
        let name = String(repeating: "x", count: length)
        for problem in [RoleNames.problem(with: name), EventConsumerNames.problem(with: name)] {
            let text = try #require(problem)
            #expect(text.count < 300, "\(text.count) characters")
            #expect(text.contains("\"" + String(repeating: "x", count: 64) + "\"… (\(length) bytes)"), "\(text)")
        }
    }
}
