import DiscoNet
import Testing

@Suite("HTTP headers")
struct HTTPHeadersTests {
    @Test func lookupIgnoresCaseAndKeepsOrder() {
        var headers: HTTPHeaders = ["Content-Type": "a", "X-Multi": "1"]
        headers.add(name: "x-multi", value: "2")
        #expect(headers["content-type"] == "a")
        #expect(headers.values(for: "X-MULTI") == ["1", "2"])
        headers.set(name: "X-Multi", value: "3")
        #expect(headers.fields.map(\.name) == ["Content-Type", "X-Multi"])
        headers.remove("CONTENT-TYPE")
        #expect(!headers.contains("Content-Type"))
    }

    @Test func tokenListsAreMatchedWholeAndCaseInsensitively() {
        let headers: HTTPHeaders = ["Connection": " Upgrade ,  Keep-Alive", "X": "closed"]
        #expect(headers.hasToken("keep-alive", in: "connection"))
        #expect(headers.hasToken("upgrade", in: "Connection"))
        #expect(!headers.hasToken("close", in: "Connection"))
        #expect(!headers.hasToken("close", in: "X"))
        #expect(!headers.hasToken("keep", in: "Connection"))
    }
}
