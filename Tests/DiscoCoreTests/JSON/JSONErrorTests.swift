import Testing
@testable import DiscoCore

@Suite struct JSONErrorTests {
    func error(_ text: String) -> JSONParseError? {
        do {
            _ = try JSONValue.parse(text)
            return nil
        } catch {
            return error
        }
    }

    func errorBytes(_ bytes: [UInt8]) -> JSONParseError? {
        do {
            _ = try JSONValue.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    // (input, code, line, column, fragment of the message)
    @Test(arguments: [
        ("{\n  \"a\": 1,\n  \"b\": 2 \"c\"\n}", JSONParseError.Code.unexpectedCharacter, 3, 10, "expected ',' or '}' after object member, found '\"'"),
        ("[1 2]", .unexpectedCharacter, 1, 4, "expected ',' or ']' after array element"),
        ("[1,]", .trailingComma, 1, 3, "trailing commas are not allowed"),
        ("{\"a\":1,}", .trailingComma, 1, 7, "trailing commas are not allowed"),
        ("{\"a\" 1}", .unexpectedCharacter, 1, 6, "expected ':' after object key \"a\""),
        ("{\"a\":1,\"a\":2}", .duplicateKey, 1, 8, "duplicate key \"a\""),
        ("[01]", .invalidNumber, 1, 2, "leading zeros are not allowed"),
        ("[1.]", .invalidNumber, 1, 4, "expected a digit after the decimal point"),
        ("[1e]", .invalidNumber, 1, 4, "expected a digit in the exponent"),
        ("[-]", .invalidNumber, 1, 3, "expected a digit after '-'"),
        ("[.5]", .unexpectedCharacter, 1, 2, "expected a JSON value"),
        ("[+1]", .unexpectedCharacter, 1, 2, "expected a JSON value"),
        ("[True]", .unexpectedCharacter, 1, 2, "expected a JSON value"),
        ("[tru]", .unexpectedCharacter, 1, 2, "expected 'true'"),
        ("[nul", .unexpectedEnd, 1, 2, "expected 'null'"),
        ("[\"a\tb\"]", .controlCharacter, 1, 4, "unescaped control character a tab in string (write it as \\t)"),
        ("[\"a\nb\"]", .controlCharacter, 1, 4, "write it as \\n"),
        ("[\"\\x\"]", .invalidEscape, 1, 3, "invalid escape '\\x'"),
        ("[\"\\u12G4\"]", .invalidEscape, 1, 7, "expected 4 hex digits"),
        ("[\"\\ud83d\"]", .invalidEscape, 1, 3, "unpaired high surrogate \\uD83D"),
        ("[\"\\ud83d\\u0041\"]", .invalidEscape, 1, 3, "not a low surrogate"),
        ("[\"\\ude00\"]", .invalidEscape, 1, 3, "unpaired low surrogate \\uDE00"),
        ("[\"abc", .unexpectedEnd, 1, 6, "expected '\"' to close the string"),
        ("{\"a\":1", .unexpectedEnd, 1, 7, "found end of input"),
        ("{\"a\":1} x", .trailingData, 1, 9, "expected end of input after the JSON value"),
        ("{a:1}", .unexpectedCharacter, 1, 2, "expected a double-quoted object key"),
        ("/* c */ {}", .unexpectedCharacter, 1, 1, "expected a JSON value"),
        ("é x", .unexpectedCharacter, 1, 1, "found byte 0xC3"),
        ("[\"é\", x]", .unexpectedCharacter, 1, 7, "expected a JSON value"),
    ])
    func reportsPositionAndExpectation(input: String, code: JSONParseError.Code, line: Int, column: Int, fragment: String) throws {
        let failure = try #require(error(input))
        #expect(failure.code == code)
        #expect(failure.line == line)
        #expect(failure.column == column)
        #expect(failure.message.contains(fragment), "\(failure.message)")
        #expect(failure.description.contains("at line \(line), column \(column)"))
    }

    @Test(arguments: [
        [UInt8(ascii: "\""), 0xFF, UInt8(ascii: "\"")],
        [UInt8(ascii: "\""), 0xC0, 0x80, UInt8(ascii: "\"")],  // overlong NUL
        [UInt8(ascii: "\""), 0xED, 0xA0, 0x80, UInt8(ascii: "\"")],  // encoded surrogate
        [UInt8(ascii: "\""), 0xF4, 0x90, 0x80, 0x80, UInt8(ascii: "\"")],  // above U+10FFFF
        [UInt8(ascii: "\""), 0xE2, 0x82, UInt8(ascii: "\"")],  // truncated
    ])
    func rejectsInvalidUTF8(bytes: [UInt8]) throws {
        let failure = try #require(errorBytes(bytes))
        #expect(failure.code == .invalidUTF8)
        #expect(failure.column == 2)
    }

    @Test func enforcesDepthLimit() throws {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        let failure = try #require(error(deep))
        #expect(failure.code == .tooDeep)
        #expect(failure.message.contains("deeper than 512"))
        #expect(throws: Never.self) { try JSONValue.parse(deep, maxDepth: 600) }
    }

    // MARK: Quoting hints

    @Test func singleQuotesGetAShellHint() throws {
        let failure = try #require(error(#"'{"name":"x"}'"#))
        #expect(failure.column == 1)
        #expect(failure.message.contains("found a single quote"))
        let hint = try #require(failure.hint)
        #expect(hint.contains("the shell did not remove them"))
        #expect(failure.descriptionWithHint.contains(#"-disco-config '{"name":"x"}'"#))
        // A request body or a file is not a command-line value: the plain description has no hint.
        #expect(!failure.description.contains("shell"))
    }

    @Test func strippedDoubleQuotesGetAHint() throws {
        let failure = try #require(error("{name:rqlite.local}"))
        #expect(failure.column == 2)
        #expect(failure.hint?.contains("the shell removed the double quotes") == true)
    }

    @Test func plainTextGetsAHint() throws {
        let failure = try #require(error("rqlite.local"))
        #expect(failure.hint?.contains("this is plain text, not JSON") == true)
        #expect(try #require(error("nope")).hint == nil)  // could be a misspelt null
    }

    @Test func emptyInputGetsAHint() throws {
        let failure = try #require(error("  "))
        #expect(failure.code == .unexpectedEnd)
        #expect(failure.hint?.contains("the value is empty") == true)
    }

    @Test func laterErrorsGetNoHint() throws {
        let failure = try #require(error(#"{"name": 'x'}"#))
        #expect(failure.hint == nil)
        #expect(failure.column == 10)
    }
}
