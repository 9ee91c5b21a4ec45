import Testing
@testable import DiscoCore

@Suite struct JSONEncodingTests {
    @Test func encodesCompactly() {
        let value: JSONValue = ["id": "n1", "addrs": ["a:1", "b:2"], "voter": true, "n": 3, "x": nil]
        #expect(value.encoded() == #"{"id":"n1","addrs":["a:1","b:2"],"voter":true,"n":3,"x":null}"#)
    }

    @Test func escapesStrings() {
        let value = JSONValue.string("q\" b\\ nl\n tab\t cr\r bs\u{8} ff\u{C} nul\u{0} us\u{1F} é 😀 /")
        #expect(value.encoded() == #""q\" b\\ nl\n tab\t cr\r bs\b ff\f nul\u0000 us\u001f é 😀 /""#)
    }

    @Test(arguments: [
        #"{"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00","d":-0,"e":1.5E+10}"#,
        #"[[],{},"",0,"\u0001\"\\"]"#,
        #"{"key with \"quotes\"":{"nested":{"deep":[true,false]}}}"#,
    ])
    func roundTrips(text: String) throws {
        let value = try JSONValue.parse(text)
        let encoded = value.encoded()
        #expect(try JSONValue.parse(encoded) == value)
        #expect(try JSONValue.parse(encoded).encoded() == encoded)
    }

    @Test func prettyEncodingIndentsTheSameValue() throws {
        let value: JSONValue = ["id": "n1", "addrs": ["a:1", "b:2"], "empty": [], "none": .object(JSONObject()), "x": nil]
        let text = String(decoding: value.prettyEncodedBytes(), as: UTF8.self)
        #expect(text == """
            {
                "id": "n1",
                "addrs": [
                    "a:1",
                    "b:2"
                ],
                "empty": [],
                "none": {},
                "x": null
            }
            """)
        #expect(try JSONValue.parse(value.prettyEncodedBytes()) == value)
        #expect(JSONValue.string("s").prettyEncodedBytes() == JSONValue.string("s").encodedBytes())
    }

    @Test func objectEditingKeepsOrder() {
        var object = JSONObject()
        object["b"] = 1
        object["a"] = 2
        object["b"] = 3
        #expect(JSONValue.object(object).encoded() == #"{"b":3,"a":2}"#)
        object["b"] = nil
        #expect(object.keys == ["a"])
    }

    @Test func errorDescriptionsOfValues() {
        #expect(JSONValue.string("abc").errorDescription == #""abc""#)
        #expect(JSONValue.array([]).errorDescription == "an array")
        #expect(JSONValue.number(JSONNumber(7)).errorDescription == "7")
    }
}
