@testable import DiscoNet
import DiscoCore
import Testing

// MARK: - The Host field's value

/// A server must answer 400 to a request whose `Host` has an invalid value (RFC 9110 §7.2,
/// RFC 9112 §3.2): `Host` is `uri-host [ ":" port ]`. The parser checked only how many `Host`
/// fields came, so `Host: a b/c`, `Host: u@h` or `Host: h/../x` went on to the upstream (and
/// into `X-Forwarded-Host` and `Forwarded`), where nginx answers 400.
@Suite("HTTP request parser: the Host field's value")
struct HTTPHostFieldTests {
    static let invalid = ["a b", "h/p", "x/../y", "u@h", "h:8a", "h:99999", "[::1", "[zz]:80", "h\\x", "h:1:2", ":80", "h?", "h#"]

    @Test(arguments: invalid)
    func anInvalidHostIsRefusedWith400(value: String) throws {
        let text = "GET / HTTP/1.1\r\nHost: \(value)\r\n\r\n"
        let outcome = HTTPRequestParser.parseAll(Array(text.utf8), splits: [])
        #expect(outcome.requests.isEmpty, "Host \(value.debugDescription) was accepted")
        let error = try #require(outcome.error)
        #expect(error.status == 400)
        #expect(error.reason.contains("Host"), "\(error.reason)")
        // HTTP/1.0 needs no Host, but one that comes must be valid too.
        let old = HTTPRequestParser.parseAll(Array("GET / HTTP/1.0\r\nHost: \(value)\r\n\r\n".utf8), splits: [])
        #expect(old.requests.isEmpty && old.error?.status == 400, "HTTP/1.0 Host \(value.debugDescription) was accepted")
    }

    @Test(arguments: invalid)
    func theInPlaceRecogniserLeavesAnInvalidHostToTheParser(value: String) {
        let bytes = Array("GET / HTTP/1.1\r\nHost: \(value)\r\n\r\n".utf8)
        var spans: [HTTPFieldSpan] = []
        let head = bytes.withUnsafeBufferPointer { HTTPSimpleRequestHead.recognise($0, limits: HTTPParserLimits(), fields: &spans) }
        #expect(head == nil, "Host \(value.debugDescription) was recognised")
    }

    /// The empty value (a target URI without an authority, RFC 9110 §7.2) and every form of host.
    @Test(arguments: ["", "h", "h.test:8080", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:8080", "my-host_1.svc%2Dx", "h:", "H.Example"])
    func aValidHostIsAccepted(value: String) throws {
        let text = "GET / HTTP/1.1\r\nHost: \(value)\r\n\r\n"
        let outcome = HTTPRequestParser.parseAll(Array(text.utf8), splits: [])
        #expect(outcome.error == nil, "Host \(value.debugDescription): \(String(describing: outcome.error))")
        #expect(outcome.requests.first?.head.headers["Host"] == value)
    }
}
