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
