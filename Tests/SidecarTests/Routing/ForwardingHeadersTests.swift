import Sidecar
import Testing

@Suite("Sidecar: header rewriting")
struct ForwardingHeadersTests {
    typealias Fields = [(name: String, value: String)]

    func value(_ fields: Fields, _ name: String) -> String? { fields.first { $0.name.lowercased() == name.lowercased() }?.value }
    func names(_ fields: Fields) -> Set<String> { Set(fields.map { $0.name.lowercased() }) }

    @Test func hopByHopFieldsAndThoseConnectionNamesAreRemovedAndHostIsKept() {
        let fields: Fields = [("Host", "api.example"), ("Connection", "keep-alive, X-Secret-Hop"), ("Keep-Alive", "timeout=5"),
                              ("TE", "trailers"), ("Trailer", "X-Sum"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"),
                              ("Proxy-Authorization", "Basic abc"), ("Proxy-Connection", "keep-alive"), ("X-Secret-Hop", "1"),
                              ("Content-Length", "5"), ("Expect", "100-continue"), ("Accept", "*/*")]
        let out = ForwardingHeaders.request(fields, client: .init(address: "10.0.0.7", proto: "http"))
        #expect(value(out, "Host") == "api.example")
        #expect(value(out, "Accept") == "*/*")
        for gone in ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authorization",
                     "proxy-connection", "x-secret-hop", "content-length", "expect"] {
            #expect(!names(out).contains(gone), "\(gone) was forwarded")
        }
    }

    @Test func forwardingFieldsDescribeTheClient() {
        let fields: Fields = [("Host", "api.example"), ("X-Forwarded-For", "192.0.2.1"), ("X-Forwarded-Proto", "https"),
                              ("Forwarded", "for=192.0.2.1")]
        let out = ForwardingHeaders.request(fields, client: .init(address: "10.0.0.7", proto: "http"))
        #expect(value(out, "X-Forwarded-For") == "192.0.2.1, 10.0.0.7")
        #expect(value(out, "X-Forwarded-Proto") == "http", "an untrusted client's claim is replaced")
        #expect(value(out, "X-Forwarded-Host") == "api.example")
        #expect(value(out, "Forwarded") == "for=192.0.2.1, for=10.0.0.7;host=api.example;proto=http")
        #expect(out.filter { $0.name.lowercased() == "x-forwarded-for" }.count == 1)
        let v6 = ForwardingHeaders.request([("Host", "h:80")], client: .init(address: "::1", proto: "https"))
        #expect(value(v6, "Forwarded") == "for=\"[::1]\";host=\"h:80\";proto=https")
        let odd = ForwardingHeaders.request([("Host", #"a"b\c"#)], client: .init(address: "10.0.0.1", proto: "http"))
        #expect(value(odd, "Forwarded") == #"for=10.0.0.1;host="a\"b\\c";proto=http"#)
    }

    @Test func aTrustedHopKeepsTheOriginalProtoAndHost() {
        let fields: Fields = [("Host", "writer:8080"), ("X-Forwarded-For", "192.0.2.1"), ("X-Forwarded-Proto", "https"),
                              ("X-Forwarded-Host", "api.example")]
        let out = ForwardingHeaders.request(fields, client: .init(address: "10.0.0.2", proto: "http"), trustedHop: true)
        #expect(value(out, "X-Forwarded-Proto") == "https")
        #expect(value(out, "X-Forwarded-Host") == "api.example")
        #expect(value(out, "X-Forwarded-For") == "192.0.2.1, 10.0.0.2")
    }

    @Test func credentialsAreStrippedAndUpgradesKeepTheirHeaders() {
        let fields: Fields = [("app_id", "a"), ("App_Key", "secret"), ("Connection", "Upgrade"), ("Upgrade", "websocket"),
                              ("Sec-WebSocket-Key", "k")]
        let out = ForwardingHeaders.request(fields, client: .init(address: nil, proto: "http"), upgrade: true, strip: ["app_id", "app_key"])
        #expect(!names(out).contains("app_id") && !names(out).contains("app_key"))
        #expect(value(out, "Upgrade") == "websocket")
        #expect(value(out, "Connection") == "Upgrade")
        #expect(value(out, "Sec-WebSocket-Key") == "k")
        #expect(value(out, "X-Forwarded-For") == "unknown")
    }

    @Test func responsesLoseFramingAndHopByHopFields() {
        let fields: Fields = [("Content-Type", "text/plain"), ("Content-Length", "3"), ("Transfer-Encoding", "chunked"),
                              ("Connection", "close, X-Hop"), ("X-Hop", "1"), ("Date", "x"), ("Keep-Alive", "timeout=1"), ("ETag", "\"e\"")]
        let out = ForwardingHeaders.response(fields)
        #expect(names(out) == ["content-type", "etag"])
    }
}
