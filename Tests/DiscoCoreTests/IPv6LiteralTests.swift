import DiscoCore
@preconcurrency import Glibc
import Testing

// MARK: - IPv6 literals in canonical form

@Suite struct IPv6LiteralTests {
    @Test(arguments: [
        ("0:0:0:0:0:0:0:1", "::1"), ("[0::1]", "::1"), ("::", "::"), ("FD00:0::0:7", "fd00::7"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"), ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"), ("::FFFF:10.0.0.1", "10.0.0.1"),
        ("0:0:0:0:0:ffff:a00:1", "10.0.0.1"), ("::a00:1", "::10.0.0.1"), ("::0.0.0.2", "::2"), ("fe80::1%eth0", "fe80::1%eth0"),
        ("10.0.0.1", "10.0.0.1"), ("Node-1.Example", "node-1.example"), ("1:::2", "1:::2"), ("12345::1", "12345::1"),
        ("1:2:3:4:5:6:7", "1:2:3:4:5:6:7"), ("1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9"), ("::1.2.3", "::1.2.3"), ("+1::", "+1::"),
    ])
    func canonicalForm(input: String, expected: String) {
        #expect(IPv6Literal.canonical(input) == expected)
    }

    /// The same text as the kernel's inet_ntop, which prints connections' source addresses
    /// (but an IPv4-mapped address as its IPv4 address, as `SocketAddress.host` prints it).
    @Test func agreesWithInetNtop() {
        var random = DeterministicRandom(seed: 6)
        var samples: [[UInt8]] = [[UInt8](repeating: 0, count: 16), [UInt8](repeating: 0xFF, count: 16),
                                  [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 10, 0, 0, 1]]
        for _ in 0..<2000 {
            // Mostly zero groups, so that runs of zeros of every length and position occur.
            samples.append((0..<8).flatMap { _ -> [UInt8] in
                Int.random(in: 0..<3, using: &random) == 0 ? [UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random)] : [0, 0]
            })
        }
        for bytes in samples {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else {
                Issue.record("inet_ntop failed")
                return
            }
            let kernel = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let expected = kernel.hasPrefix("::ffff:") && kernel.contains(".") ? String(kernel.dropFirst("::ffff:".count)) : kernel
            let spelled = (0..<8).map { String(UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]), radix: 16) }.joined(separator: ":")
            #expect(IPv6Literal.canonical(spelled) == expected, "\(spelled)")
            #expect(IPv6Literal.bytes(Substring(kernel)) == bytes, "\(kernel)")
        }
    }
}
