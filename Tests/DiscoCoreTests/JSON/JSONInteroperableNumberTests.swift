import Testing
@testable import DiscoCore

/// `JSONNumberPolicy.interoperable`: I-JSON's numbers (RFC 7493 §2.2), refused at their position.
@Suite struct JSONInteroperableNumberTests {
    func refusal(_ text: String) -> JSONParseError? {
        do {
            _ = try JSONValue.parse(text, numbers: .interoperable)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        "9007199254740991", "-9007199254740991", "0", "-0", "1.5", "1e308", "-1.7976931348623157e308", "1e-400",
        "123456789012345", "900719925474099.5", #"{"big":"9007199254740993"}"#, "[1,2,[3]]",
    ])
    func acceptsWhatADoubleHolds(_ text: String) throws {
        #expect(try JSONValue.parse(text, numbers: .interoperable) == JSONValue.parse(text))
    }

    // (input, column of the number, fragment of the message)
    @Test(arguments: [
        ("9007199254740992", 1, "the integer 9007199254740992 is beyond what a double holds exactly"),
        ("9007199254740993", 1, "I-JSON (RFC 7493) takes integers from -9007199254740991 to 9007199254740991"),
        ("-9007199254740992", 1, "the integer -9007199254740992"),
        ("18446744073709551616", 1, "send larger ones as strings"),
        (#"{"n": 1e999999}"#, 7, "the number 1e999999 is too large for a double"),
        ("[1, -1.8e308]", 5, "takes finite doubles"),
        ("[1, 99999999999999999999]", 5, "the integer 99999999999999999999"),
    ])
    func refusesNumbersBeyondADouble(_ text: String, column: Int, message: String) throws {
        let error = try #require(refusal(text))
        #expect(error.code == .numberOutOfRange)
        #expect(error.line == 1 && error.column == column, "\(error)")
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.contains("at line 1, column \(column)"), "\(error)")
        // The default policy keeps such numbers exactly.
        #expect(throws: Never.self) { try JSONValue.parse(text) }
    }

    @Test func aHugeNumberIsShortenedInTheMessage() throws {
        let error = try #require(refusal("1" + String(repeating: "0", count: 400) + ".5"))
        #expect(error.message.count < 300, "\(error)")
        #expect(error.message.contains("…"))
    }
}
