import DiscoCore
import Testing

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("0", 0), ("65536", 65536), ("12B", 12), ("1KiB", 1024), ("64MiB", 64 << 20), ("1GiB", 1 << 30), ("2TiB", 2 << 40),
        ("1KB", 1000), ("64MB", 64_000_000), ("3GB", 3_000_000_000), ("1TB", 1_000_000_000_000),
    ])
    func parsesBytesAndUnits(text: String, bytes: Int) throws {
        #expect(try ByteSize.parse(text) == bytes)
    }

    @Test(arguments: ["", "KiB", "1.5MiB", "-1", "+1", " 1", "1 MiB", "1mib", "1XB", "0x10", "١٢"])
    func refusesAnythingElseShowingTheForms(text: String) {
        #expect(throws: FlagValueError.self) { try ByteSize.parse(text) }
        do {
            _ = try ByteSize.parse(text)
        } catch {
            #expect(error.reason.contains("e.g. 65536, 512KiB, 64MiB or 1GiB"), "\(error)")
        }
    }

    @Test func refusesOverflow() {
        #expect(throws: FlagValueError.self) { try ByteSize.parse("9223372036854775807KiB") }
        #expect(throws: FlagValueError.self) { try ByteSize.parse("99999999999999999999") }
    }

    @Test func formatsInTheLargestExactBinaryUnit() {
        #expect(ByteSize.format(64 << 20) == "64MiB")
        #expect(ByteSize.format(1536) == "1536B")
        #expect(ByteSize.format(3 << 30) == "3GiB")
        #expect(ByteSize.format(0) == "0B")
    }
}
