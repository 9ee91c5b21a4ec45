import DiscoCore

// MARK: - Serialising responses

/// Builds response heads and chunk framing as bytes.
enum HTTPResponseEncoder {
    /// The status line and headers, plus the framing and connection headers the server decides.
    static func head(
        _ response: HTTPResponse, version: HTTPVersion, contentLength: Int?, chunked: Bool, keepAlive: Bool
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + response.headers.count * 32)
        appendHead(response, version: version, contentLength: contentLength, chunked: chunked, keepAlive: keepAlive, to: &out)
        return out
    }

    /// ``head(_:version:contentLength:chunked:keepAlive:)`` appended to `out` (a buffer the
    /// caller reuses, so answering a request allocates no array for its head).
    static func appendHead(
        _ response: HTTPResponse, version: HTTPVersion, contentLength: Int?, chunked: Bool, keepAlive: Bool,
        to out: inout [UInt8]
    ) {
        appendStatusLine(response, version: version, to: &out)
        for field in response.headers {
            if HTTPHeaders.namesEqual(field.name, "Content-Length") || HTTPHeaders.namesEqual(field.name, "Transfer-Encoding")
                || HTTPHeaders.namesEqual(field.name, "Connection") {
                continue
            }
            appendField(field.name, field.value, to: &out)
        }
        appendFraming(contentLength: contentLength, chunked: chunked, keepAlive: keepAlive, version: version, to: &out)
    }

    /// The fields the server decides (length or chunking, and the connection's fate), then the
    /// empty line ending the head.
    private static func appendFraming(contentLength: Int?, chunked: Bool, keepAlive: Bool, version: HTTPVersion,
                                      to out: inout [UInt8]) {
        if let contentLength {
            out.appendUTF8("Content-Length: " as StaticString)
            appendDecimal(contentLength, to: &out)
            out.appendUTF8("\r\n" as StaticString)
        }
        if chunked { out.appendUTF8("Transfer-Encoding: chunked\r\n" as StaticString) }
        if !keepAlive {
            out.appendUTF8("Connection: close\r\n" as StaticString)
        } else if version.minor == 0 {
            out.appendUTF8("Connection: keep-alive\r\n" as StaticString)
        }
        out.appendUTF8("\r\n" as StaticString)
    }

    /// A relayed upstream response as one buffer: status line, `Date`, the relayed fields,
    /// the framing and connection fields the server decides, and the body.
    static func appendRelayed(_ relayed: HTTPRelayedResponse, version: HTTPVersion, omitBody: Bool, keepAlive: Bool,
                              to out: inout [UInt8]) {
        out.reserveCapacity(out.count + 96 + relayed.fieldsCount + relayed.body.count)
        appendStatusLine(status: relayed.status, reason: relayed.reason, version: version, to: &out)
        out.append(contentsOf: HTTPDate.headerLine())
        relayed.appendFields(to: &out)
        appendFraming(contentLength: relayed.body.count, chunked: false, keepAlive: keepAlive, version: version, to: &out)
        if !omitBody { out.append(contentsOf: relayed.body) }
    }

    /// An interim (1xx) response: its status line and fields as given, minus any framing or
    /// `Connection` field (it has no body and does not end the exchange).
    static func appendInterim(_ interim: HTTPInterimResponse, to out: inout [UInt8]) {
        appendStatusLine(status: interim.status, reason: interim.reason, version: .http1_1, to: &out)
        for field in interim.headers {
            if HTTPHeaders.namesEqual(field.name, "Content-Length") || HTTPHeaders.namesEqual(field.name, "Transfer-Encoding")
                || HTTPHeaders.namesEqual(field.name, "Connection") {
                continue
            }
            appendField(field.name, field.value, to: &out)
        }
        out.appendUTF8("\r\n" as StaticString)
    }

    /// The head of a response that switches protocols (101, or 2xx to CONNECT): the handler's
    /// fields as given, `Connection` and `Upgrade` included, and no framing.
    static func handOffHead(_ response: HTTPResponse, version: HTTPVersion) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + response.headers.count * 32)
        appendStatusLine(response, version: version, to: &out)
        for field in response.headers {
            if HTTPHeaders.namesEqual(field.name, "Content-Length") || HTTPHeaders.namesEqual(field.name, "Transfer-Encoding") {
                continue
            }
            appendField(field.name, field.value, to: &out)
        }
        out.appendUTF8("\r\n" as StaticString)
        return out
    }

    private static func appendStatusLine(_ response: HTTPResponse, version: HTTPVersion, to out: inout [UInt8]) {
        appendStatusLine(status: response.status, reason: response.reason, version: version, to: &out)
        if !response.headers.contains("Date") { out.append(contentsOf: HTTPDate.headerLine()) }
    }

    /// `HTTP/1.x status reason` (controls dropped from the reason) and its CRLF.
    private static func appendStatusLine(status: Int, reason: String, version: HTTPVersion, to out: inout [UInt8]) {
        out.appendUTF8(version.minor == 0 ? "HTTP/1.0 " as StaticString : "HTTP/1.1 ")
        appendDecimal(status, to: &out)
        out.append(HTTPSyntax.space)
        appendText(reason, to: &out, isKept: { $0 >= 0x20 && $0 != 0x7F })
        out.appendUTF8("\r\n" as StaticString)
    }

    /// Appends `text`'s bytes without those `isKept` refuses. The usual text has none to drop and
    /// is copied in one piece; otherwise byte by byte (`replacement` stands in for a dropped
    /// byte when given).
    @inline(__always)
    private static func appendText(_ text: String, to out: inout [UInt8], replacement: UInt8? = nil, isKept: (UInt8) -> Bool) {
        text.withBorrowedUTF8 { bytes in
            var allKept = true
            for index in 0..<bytes.count where !isKept(bytes[index]) {
                allKept = false
                break
            }
            if allKept {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                if isKept(byte) { out.append(byte) } else if let replacement { out.append(replacement) }
            }
        }
    }

    /// A small error response with the reason as its body, in `format`; the connection closes
    /// after it.
    static func error(status: Int, reason: String, version: HTTPVersion = .http1_1, format: HTTPErrorFormat = .plainText) -> [UInt8] {
        let (contentType, body) = format.body(reason)
        var out = head(
            HTTPResponse(status: status, headers: ["Content-Type": contentType]),
            version: version, contentLength: body.count, chunked: false, keepAlive: false)
        out.append(contentsOf: body)
        return out
    }

    /// One chunk: size in hex, CRLF, data, CRLF.
    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 12)
        out.append(contentsOf: String(bytes.count, radix: 16).utf8)
        out.appendUTF8("\r\n" as StaticString)
        out.append(contentsOf: bytes)
        out.appendUTF8("\r\n" as StaticString)
        return out
    }

    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private static func appendField(_ name: String, _ value: String, to out: inout [UInt8]) {
        out.appendUTF8(name)
        out.appendUTF8(": " as StaticString)
        // Never let a handler's value smuggle a line break into the head.
        appendText(value, to: &out, replacement: HTTPSyntax.space, isKept: { $0 != HTTPSyntax.cr && $0 != HTTPSyntax.lf })
        out.appendUTF8("\r\n" as StaticString)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if (100..<1000).contains(value) {
            // A status code: three digits, written in order.
            out.append(UInt8(ascii: "0") + UInt8(value / 100))
            out.append(UInt8(ascii: "0") + UInt8(value / 10 % 10))
            out.append(UInt8(ascii: "0") + UInt8(value % 10))
            return
        }
        let start = out.count
        var rest = value
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        out[start...].reverse()
    }
}
