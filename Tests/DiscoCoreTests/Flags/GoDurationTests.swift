import Testing
@testable import DiscoCore

@Suite struct GoDurationTests {
    @Test(arguments: [
        ("0", Int64(0)),
        ("+0", 0),
        ("-0", 0),
        ("5s", 5_000_000_000),
        ("30s", 30_000_000_000),
        ("1478s", 1_478_000_000_000),
        ("-5s", -5_000_000_000),
        ("+5s", 5_000_000_000),
        ("300ms", 300_000_000),
        ("1.5s", 1_500_000_000),
        ("1.s", 1_000_000_000),
        (".5s", 500_000_000),
        ("2m", 120_000_000_000),
        ("1h2m3.5s", 3_723_500_000_000),
        ("10ns", 10),
        ("11us", 11_000),
        ("12µs", 12_000),
        ("12μs", 12_000),
        ("13ms", 13_000_000),
        ("14h", 50_400_000_000_000),
        ("3h30m", 12_600_000_000_000),
        ("10.5s4m", 250_500_000_000),
        ("-2m3.4s", -123_400_000_000),
        ("1h1m1s1ms1us1ns", 3_661_001_001_001),
        ("39h9m14.425s", 140_954_425_000_000),
        ("52763797000ns", 52_763_797_000),
        ("0.3333333333333333333h", 1_200_000_000_000),
        ("9007199254740993ns", 9_007_199_254_740_993),
        ("9223372036854775807ns", Int64.max),
        ("9223372036854775.807us", Int64.max),
        ("-9223372036854775808ns", Int64.min),
        ("0.100000000000000000000h", 360_000_000_000),
    ])
    func parsesValidDurations(text: String, nanoseconds: Int64) throws {
        #expect(try GoDuration.parseNanoseconds(text) == nanoseconds)
    }

    @Test(arguments: [
        ("", "empty"),
        ("3", "missing unit"),
        ("-", "missing number"),
        ("s", "not a duration"),
        (".", "expected digits around '.'"),
        ("-.", "expected digits around '.'"),
        (".s", "expected digits around '.'"),
        ("+.s", "expected digits around '.'"),
        ("1d", "unknown unit \"d\""),
        ("1sec", "unknown unit \"sec\""),
        ("3000000h", "out of range"),
        ("9223372036854775808ns", "out of range"),
        ("9223372036854775.808us", "out of range"),
        ("-9223372036854775809ns", "out of range"),
        ("abc", "not a duration"),
        ("1s ", "unknown unit \"s \""),
        (" 1s", "not a duration"),
    ])
    func rejectsInvalidDurations(text: String, fragment: String) {
        #expect {
            try GoDuration.parseNanoseconds(text)
        } throws: { error in
            "\(error)".contains(fragment) && "\(error)".contains("expected a duration such as 300ms, 1.5s or 2m")
        }
    }

    static let formatCases: [(Int64, String)] = [
        (0, "0s"),
        (1, "1ns"),
        (1_100, "1.1µs"),
        (2_200_000, "2.2ms"),
        (3_300_000_000, "3.3s"),
        (245_000_000_000, "4m5s"),
        (245_001_000_000, "4m5.001s"),
        (18_367_001_000_000, "5h6m7.001s"),
        (480_000_000_001, "8m0.000000001s"),
        (120_000_000_000, "2m0s"),
        (-1_500_000_000, "-1.5s"),
        (Int64.max, "2562047h47m16.854775807s"),
        (Int64.min, "-2562047h47m16.854775808s"),
    ]

    @Test(arguments: formatCases)
    func formatsLikeGo(nanoseconds: Int64, text: String) throws {
        #expect(GoDuration.format(nanoseconds: nanoseconds) == text)
        if nanoseconds != Int64.min {
            #expect(try GoDuration.parseNanoseconds(text) == nanoseconds)
        }
    }

    @Test func convertsSwiftDurations() throws {
        #expect(try GoDuration.parse("1.5s") == .milliseconds(1500))
        #expect(GoDuration.format(.seconds(120)) == "2m0s")
        #expect(GoDuration.nanoseconds(of: .seconds(Int64.max)) == Int64.max)
    }
}
