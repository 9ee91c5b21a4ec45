import Testing
@testable import DiscoCore

@Suite struct JSONObjectReaderTests {
    let fields = ["index", "delta", "name", "ratio", "on", "list", "wait", "inner"]

    func reader(_ text: String) throws -> JSONObjectReader {
        try JSONObjectReader(try JSONValue.parse(text), context: "request body", allowedFields: fields)
    }

    @Test func readsTypedFields() throws {
        let body = try reader(#"{"index":18446744073709551615,"delta":-5,"name":"n","ratio":0.5,"on":true,"list":["a"],"wait":"2s","inner":{"x":1}}"#)
        #expect(try body.uint64("index") == UInt64.max)
        #expect(try body.int64("delta") == -5)
        #expect(try body.string("name") == "n")
        #expect(try body.double("ratio") == 0.5)
        #expect(try body.bool("on") == true)
        #expect(try body.stringArray("list") == ["a"])
        #expect(try body.duration("wait") == .seconds(2))
        let inner = try #require(try body.object("inner", allowedFields: ["x"]))
        #expect(try inner.int("x", in: 0...9) == 1)
        #expect(try body.string("missing") == nil)
    }

    @Test func errorsNameTheFieldInContext() throws {
        let body = try reader(#"{"index":-1,"delta":1.5,"inner":{"y":1}}"#)
        #expect {
            try body.uint64("index")
        } throws: { error in
            "\(error)" == #"request body field "index": expected an integer from 0 to 18446744073709551615, got -1"#
        }
        #expect {
            try body.int64("delta")
        } throws: { error in
            "\(error)".contains(#"field "delta": expected an integer"#) && "\(error)".hasSuffix("got 1.5")
        }
        #expect {
            try body.object("inner", allowedFields: ["x"])
        } throws: { error in
            "\(error)" == #"request body: unknown field "inner.y"; did you mean "inner.x"? Valid fields of "inner" are: x"#
        }
    }

    @Test func buildsValuesFromNumbers() {
        #expect(JSONValue(UInt64.max).encoded() == "18446744073709551615")
        #expect(JSONValue(Int8(-3)).encoded() == "-3")
        #expect(JSONValue(2.5)?.encoded() == "2.5")
        #expect(JSONValue(Double.infinity) == nil)
    }
}
