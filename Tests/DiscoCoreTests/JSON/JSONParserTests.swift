import Testing
@testable import DiscoCore

@Suite struct JSONParserTests {
    // MARK: Valid documents

    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue.parse(#" {"a": [1, -2.5e3, true, false, null, "x"], "b": {}, "c": []} "#)
        #expect(value == ["a": [1, .number(JSONNumber(text: "-2.5e3")!), true, false, nil, "x"], "b": .object(JSONObject()), "c": []])
        #expect(value["a"]?.arrayValue?.count == 6)
        #expect(value.objectValue?.keys == ["a", "b", "c"])
    }

    @Test func topLevelScalarsAreDocuments() throws {
        #expect(try JSONValue.parse("42") == 42)
        #expect(try JSONValue.parse("\"s\"") == "s")
        #expect(try JSONValue.parse(" null\n") == .null)
    }

    @Test func keepsObjectMemberOrder() throws {
        let value = try JSONValue.parse(#"{"z":1,"a":2,"m":3}"#)
        #expect(value.objectValue?.keys == ["z", "a", "m"])
        #expect(value.encoded() == #"{"z":1,"a":2,"m":3}"#)
    }

    @Test func ignoresLeadingByteOrderMark() throws {
        #expect(try JSONValue.parse([0xEF, 0xBB, 0xBF] + Array("[1]".utf8)) == [1])
    }

    @Test func parsesFromRawBuffer() throws {
        let bytes = Array(#"{"k":"v"}"#.utf8)
        let value = try bytes.withUnsafeBytes { buffer in try JSONValue.parse(buffer) }
        #expect(value["k"] == "v")
    }

    // MARK: Numbers

    @Test func largeIntegersRoundTripExactly() throws {
        let text = #"[18446744073709551615,123456789012345678901234567890,-9223372036854775808]"#
        let value = try JSONValue.parse(text)
        #expect(value.encoded() == text)
        #expect(value.arrayValue?[0].numberValue?.uint64Value == UInt64.max)
        #expect(value.arrayValue?[0].numberValue?.int64Value == nil)
        #expect(value.arrayValue?[1].numberValue?.uint64Value == nil)
        #expect(value.arrayValue?[2].numberValue?.int64Value == Int64.min)
    }

    @Test(arguments: ["0", "-0", "1.5", "1e10", "1E+2", "-1.25e-300", "0.000001", "1e400"])
    func numbersKeepTheirText(text: String) throws {
        let value = try JSONValue.parse(text)
        #expect(value.encoded() == text)
    }

    @Test func numberAccessors() throws {
        #expect(JSONNumber(text: "-0")?.doubleValue == 0)
        #expect(JSONNumber(text: "-0")?.doubleValue?.sign == .minus)
        #expect(JSONNumber(text: "1e400")?.doubleValue == nil)
        #expect(JSONNumber(text: "2.5")?.intValue == nil)
        #expect(JSONNumber(text: "01") == nil)
        #expect(JSONNumber(0.1)?.text == "0.1")
        #expect(JSONNumber(3.0)?.text == "3")
        #expect(JSONNumber(Double.nan) == nil)
    }

    // MARK: Strings

    @Test func decodesEscapes() throws {
        let value = try JSONValue.parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC""#)
        #expect(value == .string("\"\\/\u{8}\u{C}\n\r\tAé€"))
    }

    @Test func decodesSurrogatePairs() throws {
        #expect(try JSONValue.parse(#""\ud83d\ude00""#) == "😀")
        #expect(try JSONValue.parse(#""\uD834\uDD1E""#) == "𝄞")
    }

    @Test func acceptsRawUTF8() throws {
        #expect(try JSONValue.parse("\"héllo 😀 日本\"") == "héllo 😀 日本")
    }

    @Test func allowsEscapedNUL() throws {
        #expect(try JSONValue.parse(#""a\u0000b""#).stringValue?.utf8.count == 3)
    }
}
