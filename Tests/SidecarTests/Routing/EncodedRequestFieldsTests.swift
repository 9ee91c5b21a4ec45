import DiscoTestKit
import Sidecar
import Testing

/// `encodeRequestFields` writes bytes directly for the proxy's inline path; it must say exactly
/// what encoding `request(_:client:strip:)`'s fields says, plus the `Host` an HTTP client adds.
/// So must the byte lane (`simpleRequestField`, `appendField`, `appendForwardingFields`) for
/// every field set it takes.
@Suite("Sidecar: request fields encoded as bytes")
struct EncodedRequestFieldsTests {
    /// What the general path sends: the rewritten fields, `Host: default` first when absent.
    private func expected(_ fields: [(name: String, value: String)], client: ForwardingHeaders.ClientSide,
                          strip: Set<String>, defaultHost: String) -> [UInt8] {
        var out: [UInt8] = []
        if !fields.contains(where: { $0.name.lowercased() == "host" }) { out += Array("Host: \(defaultHost)\r\n".utf8) }
        for field in ForwardingHeaders.request(fields, client: client, strip: strip) {
            // The HTTP client's encoder writes a line break in a value as a space.
            out += Array("\(field.name): ".utf8) + field.value.utf8.map { $0 == 0x0D || $0 == 0x0A ? 0x20 : $0 } + Array("\r\n".utf8)
        }
        return out
    }

    private struct Field: ForwardableField {
        let name: String
        let value: String
    }

    private func actual(_ fields: [(name: String, value: String)], client: ForwardingHeaders.ClientSide,
                        strip: Set<String>, defaultHost: String) -> [UInt8] {
        var out: [UInt8] = []
        ForwardingHeaders.encodeRequestFields(fields.map { Field(name: $0.name, value: $0.value) }, client: client, strip: strip,
                                              defaultHost: defaultHost, into: &out)
        return out
    }

    /// What the byte lane writes for the same fields, when it takes them: nil when it declines
    /// (a field only the general rewriting handles, or not exactly one `Host`) or when a value
    /// holds a byte a head taken in place cannot (a line break).
    private func viaBytes(_ fields: [(name: String, value: String)], client: ForwardingHeaders.ClientSide, strip: Set<String>) -> [UInt8]? {
        guard fields.filter({ $0.name.lowercased() == "host" }).count == 1,
              !fields.contains(where: { $0.value.utf8.contains { $0 < 0x20 } }) else { return nil }
        var out: [UInt8] = []
        var host: [UInt8] = []
        for field in fields {
            let name = Array(field.name.utf8)
            let value = Array(field.value.utf8)
            let fate = name.withUnsafeBufferPointer { name in
                value.withUnsafeBufferPointer { ForwardingHeaders.simpleRequestField(name: name, value: $0, strip: strip) }
            }
            switch fate {
            case .needsGeneralRewriting: return nil
            case .drop: continue
            case .host: host = value
            case .keep: break
            }
            name.withUnsafeBufferPointer { name in value.withUnsafeBufferPointer { ForwardingHeaders.appendField(name: name, value: $0, to: &out) } }
        }
        host.withUnsafeBufferPointer { ForwardingHeaders.appendForwardingFields(host: $0, client: client, to: &out) }
        return out
    }

    @Test(arguments: [
        [("Host", "example.com")],
        [],
        [("host", "a:8080"), ("X-Forwarded-For", "10.0.0.1"), ("x-forwarded-for", "10.0.0.2, 10.0.0.3")],
        [("Forwarded", "for=1.2.3.4"), ("Host", "h"), ("Forwarded", "for=5.6.7.8;proto=https"), ("X-Forwarded-Proto", "https")],
        [("Connection", "keep-alive, X-Secret"), ("X-Secret", "s"), ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Host", "h")],
        [("App-Id", "a"), ("app-key", "k"), ("Disco-Sidecar-Hop", "n1"), ("Accept", "*/*"), ("Host", "h\"q\\")],
        [("Content-Length", "0"), ("Expect", "100-continue"), ("Upgrade", "websocket"), ("Transfer-Encoding", "chunked"),
         ("Proxy-Authorization", "x"), ("Date", "today"), ("X-Forwarded-Host", "orig"), ("Host", "")],
        [("Host", "first"), ("Host", "second"), ("User-Agent", "wrk"), ("A-Very-Long-Header-Name-Beyond-Fifteen", "v")],
    ] as [[(String, String)]])
    func theBytesAreWhatTheFieldsSay(fields: [(String, String)]) {
        let named = fields.map { (name: $0.0, value: $0.1) }
        let strip: Set<String> = ["disco-sidecar-hop", "app-id", "app-key"]
        for client in [ForwardingHeaders.ClientSide(address: "127.0.0.1", proto: "http"),
                       ForwardingHeaders.ClientSide(address: "::1", proto: "https"),
                       ForwardingHeaders.ClientSide(address: nil, proto: "http")] {
            let want = expected(named, client: client, strip: strip, defaultHost: "upstream:9984")
            let got = actual(named, client: client, strip: strip, defaultHost: "upstream:9984")
            #expect(String(decoding: got, as: UTF8.self) == String(decoding: want, as: UTF8.self))
            if let bytes = viaBytes(named, client: client, strip: strip) {
                #expect(String(decoding: bytes, as: UTF8.self) == String(decoding: want, as: UTF8.self), "through the byte lane")
            }
        }
    }

    @Test func randomFieldSetsAgree() async {
        // Off the cooperative pool: 2,000 cases are seconds of work in a debug build.
        await CPUBoundWork.runTest {
            var generator = SplitMix(seed: 7)
            var throughBytes = 0
            let names = ["Host", "host", "X-Forwarded-For", "Forwarded", "X-Forwarded-Proto", "X-Forwarded-Host", "Connection",
                         "Keep-Alive", "Accept", "X-A", "x-a", "Upgrade", "Content-Length", "App-Id", "Date", "TE"]
            let values = ["", "v", "a, b", "close, X-A", "keep-alive", "127.0.0.1:80", "h\"x", "for=\"[::1]\"", "X-A, Accept", "line\r\nbreak", "h:1\n"]
            for _ in 0..<2_000 {
                let count = Int(generator.next() % 7)
                let fields = (0..<count).map { _ in
                    (name: names[Int(generator.next() % UInt64(names.count))], value: values[Int(generator.next() % UInt64(values.count))])
                }
                let client = ForwardingHeaders.ClientSide(address: generator.next() % 2 == 0 ? "10.1.2.3" : "fe80::1", proto: "http")
                let want = expected(fields, client: client, strip: ["app-id"], defaultHost: "d:1")
                let got = actual(fields, client: client, strip: ["app-id"], defaultHost: "d:1")
                #expect(got == want, "fields \(fields)")
                if got != want { return }
                if let bytes = viaBytes(fields, client: client, strip: ["app-id"]) {
                    throughBytes += 1
                    #expect(bytes == want, "through the byte lane: fields \(fields)")
                    if bytes != want { return }
                }
            }
            // Field sets shaped like those the byte lane takes: one Host, fields it keeps or drops.
            let simpleNames = ["Accept", "X-A", "x-a", "App-Id", "Date", "Connection", "User-Agent", "Disco-Sidecar-Hop"]
            let simpleValues = ["", "v", "a, b", "close", "keep-alive", "Keep-Alive", "127.0.0.1:80", "h\"x", "[::1]:8080", "x y"]
            for _ in 0..<1_000 {
                var fields = (0..<Int(generator.next() % 6)).map { _ in
                    (name: simpleNames[Int(generator.next() % UInt64(simpleNames.count))],
                     value: simpleValues[Int(generator.next() % UInt64(simpleValues.count))])
                }
                fields.insert((name: "Host", value: simpleValues[Int(generator.next() % UInt64(simpleValues.count))]),
                              at: Int(generator.next() % UInt64(fields.count + 1)))
                let client = ForwardingHeaders.ClientSide(address: generator.next() % 2 == 0 ? "10.1.2.3" : "fe80::1", proto: "http")
                guard let bytes = viaBytes(fields, client: client, strip: ["app-id"]) else { continue }
                throughBytes += 1
                let want = expected(fields, client: client, strip: ["app-id"], defaultHost: "d:1")
                #expect(bytes == want, "through the byte lane: fields \(fields)")
                if bytes != want { return }
            }
            #expect(throughBytes > 500, "the byte lane took \(throughBytes) of the field sets")
        }
    }
}

/// A small deterministic generator (SplitMix64) for reproducible random cases.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
