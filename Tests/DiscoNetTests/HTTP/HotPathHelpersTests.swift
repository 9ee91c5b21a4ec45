import DiscoCore
@testable import DiscoNet
import Testing

/// The shortcuts the proxy's per-request path takes give what the general code gives.
@Suite("Hot-path shortcuts")
struct HotPathHelpersTests {
    /// Whole nanoseconds the way `Duration.components` gives them (the general conversion).
    private func viaComponents(_ duration: Duration) -> UInt64 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        let (secNanos, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return UInt64.max / 2 }
        return secNanos &+ UInt64(attoseconds / 1_000_000_000)
    }

    @Test func nanosecondsMatchTheComponentsConversion() {
        let durations: [Duration] = [
            .zero, .nanoseconds(1), .nanoseconds(-1), .seconds(-5), .milliseconds(1500), .seconds(30), .seconds(60),
            .seconds(9443), .seconds(9444), .seconds(9445), .seconds(86_400), .seconds(Int64.max / 2),
            .microseconds(123_456_789), .seconds(1) + .nanoseconds(999_999_999), Duration(secondsComponent: 1, attosecondsComponent: 1),
            Duration(secondsComponent: 9443, attosecondsComponent: 999_999_999_999_999_999),
        ]
        for duration in durations {
            #expect(MonotonicClock.nanoseconds(duration) == viaComponents(duration), "\(duration)")
        }
    }

    @Test func tokenCharactersAreRFC9110TChar() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(HTTPSyntax.isTokenChar(byte) == tchar.contains(byte), "\(byte)")
        }
    }

    @Test func commonStringsEqualTheDecodedBytes() {
        for text in ["GET", "PUT", "POST", "HEAD", "OK", "get", "GEX", "PATCH", "DELETE", "O", "Not Found", "", "PUTS"] {
            let bytes = Array(("x" + text + "y").utf8)
            bytes.withUnsafeBufferPointer { buffer in
                #expect(HTTPSyntax.commonString(buffer, 1..<(bytes.count - 1)) == text)
            }
        }
    }

    @Test func appendWritingAppendsWhatTheWriterWrote() {
        var out = Array("head:".utf8)
        let piece = Array("piece".utf8)
        out.appendWriting(atMost: 64) { writer in
            writer.write("literal " as StaticString)
            piece.withUnsafeBufferPointer { writer.write($0) }
            writer.write(UInt8(ascii: " "))
            writer.write("text")
            writer.write(UnsafeBufferPointer<UInt8>(start: nil, count: 0))
        }
        #expect(String(decoding: out, as: UTF8.self) == "head:literal piece text")
        out.appendWriting(atMost: 0) { _ in }
        #expect(out.count == 23)
    }
}
