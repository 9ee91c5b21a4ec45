import Testing
@testable import DiscoCore

/// A small flag set exercising every kind of flag.
struct SampleFlags {
    var set = FlagSet(programName: "sample", synopsis: "Usage: sample [flags] <dir>")
    let name: Flag<String>
    let verbose: Flag<Bool>
    let count: Flag<Int>
    let size: Flag<UInt>
    let wait: Flag<Duration>
    let mode: Flag<String?>

    init() {
        name = set.string("name", default: "disco", usage: "Name", group: "General")
        verbose = set.bool("verbose", usage: "Talk more", group: "General")
        count = set.int("count", default: 5, usage: "How many", group: "Numbers")
        size = set.uint("size", usage: "How big", group: "Numbers")
        wait = set.duration("wait", default: .seconds(3), usage: "How long", group: "Numbers")
        mode = set.custom("mode", default: nil, defaultText: nil, typeName: "mode", usage: "a or b") { text throws(FlagValueError) in
            guard text == "a" || text == "b" else { throw FlagValueError("expected a or b") }
            return text
        }
    }

    func parse(_ arguments: [String]) throws(FlagError) -> ParsedFlags { try set.parse(arguments) }
}

@Suite struct FlagSetTests {
    let flags = SampleFlags()

    func failure(_ arguments: [String]) -> FlagError? {
        do {
            _ = try flags.parse(arguments)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Forms

    @Test(arguments: [
        ["-name", "x"], ["-name=x"], ["--name", "x"], ["--name=x"],
    ])
    func acceptsEveryValueForm(arguments: [String]) throws {
        let parsed = try flags.parse(arguments + ["dir"])
        #expect(parsed[flags.name] == "x")
        #expect(parsed.isSet(flags.name))
        #expect(parsed.positionals == ["dir"])
    }

    @Test func defaultsApplyWhenAbsent() throws {
        let parsed = try flags.parse([])
        #expect(parsed[flags.name] == "disco")
        #expect(parsed[flags.count] == 5)
        #expect(parsed[flags.wait] == .seconds(3))
        #expect(parsed[flags.mode] == nil)
        #expect(!parsed.isSet(flags.name))
    }

    @Test func emptyValueWithEqualsIsAllowed() throws {
        #expect(try flags.parse(["-name="])[flags.name] == "")
    }

    @Test func valueMayStartWithDashWhenNotAFlag() throws {
        #expect(try flags.parse(["-count", "-3"])[flags.count] == -3)
        #expect(try flags.parse(["-name", "-"])[flags.name] == "-")
    }

    @Test func lastValueWins() throws {
        #expect(try flags.parse(["-count", "1", "-count=2"])[flags.count] == 2)
    }

    // MARK: Booleans

    @Test(arguments: [
        ("-verbose", true), ("--verbose", true),
        ("-verbose=true", true), ("-verbose=1", true), ("-verbose=t", true), ("-verbose=T", true),
        ("-verbose=TRUE", true), ("-verbose=True", true),
        ("-verbose=false", false), ("-verbose=0", false), ("-verbose=f", false), ("-verbose=F", false),
        ("-verbose=FALSE", false), ("-verbose=False", false),
    ])
    func booleanForms(argument: String, expected: Bool) throws {
        #expect(try flags.parse([argument])[flags.verbose] == expected)
    }

    @Test func booleanDoesNotConsumeNextArgument() throws {
        let parsed = try flags.parse(["-verbose", "false", "dir"])
        #expect(parsed[flags.verbose] == true)
        #expect(parsed.positionals == ["false", "dir"])
    }

    @Test(arguments: ["-verbose=yes", "-verbose=", "-verbose=on"])
    func rejectsOtherBooleanValues(argument: String) throws {
        let error = try #require(failure([argument]))
        #expect(error.code == .invalidValue)
        #expect(error.flag == "verbose")
        #expect(error.message.contains("for flag -verbose: expected a boolean"))
    }

    // MARK: Positionals

    @Test func stopsAtFirstNonFlag() throws {
        let parsed = try flags.parse(["-count", "1", "dir", "-name", "x"])
        #expect(parsed.positionals == ["dir", "-name", "x"])
        #expect(parsed[flags.name] == "disco")
    }

    @Test func doubleDashEndsFlags() throws {
        let parsed = try flags.parse(["-verbose", "--", "-name", "x"])
        #expect(parsed.positionals == ["-name", "x"])
        #expect(parsed[flags.verbose])
    }

    @Test func loneDashIsPositional() throws {
        #expect(try flags.parse(["-", "-verbose"]).positionals == ["-", "-verbose"])
    }

    // MARK: Interspersed

    @Test func interspersedReadsFlagsAfterPositionals() throws {
        let parsed = try flags.set.parse(["a", "-count", "1", "b", "-verbose", "c"], interspersed: true)
        #expect(parsed.positionals == ["a", "b", "c"])
        #expect(parsed[flags.count] == 1)
        #expect(parsed[flags.verbose])
    }

    @Test func interspersedStopsAtDoubleDashAndKeepsLoneDash() throws {
        let parsed = try flags.set.parse(["-", "-name", "x", "--", "-count", "-5"], interspersed: true)
        #expect(parsed.positionals == ["-", "-count", "-5"])
        #expect(parsed[flags.name] == "x")
        #expect(!parsed.isSet(flags.count))
    }

    @Test func interspersedNamesTheDoubleDashForANegativeNumber() throws {
        do {
            _ = try flags.set.parse(["x", "-5"], interspersed: true)
            Issue.record("-5 was accepted as a flag")
        } catch {
            #expect(error.code == .unknownFlag)
            #expect(error.message == "flag provided but not defined: -5; write -- before arguments that start with -, e.g. -- -5")
        }
        // A negative number is still a flag's value.
        #expect(try flags.set.parse(["x", "-count", "-5"], interspersed: true)[flags.count] == -5)
    }

    @Test func groupedNamesTheHeadingOfFlagsWithoutOne() {
        var set = FlagSet(programName: "grouped", synopsis: "Usage: grouped")
        let own = set.grouped("Flags") { set in set.bool("own", usage: "Own flag") }
        _ = set.grouped("Global flags") { set in set.string("addr", usage: "Address", group: "Explicit") }
        #expect(own.name == "own")
        #expect(set.declares("own") && set.declares("addr") && !set.declares("other"))
        #expect(set.usage() == "Usage: grouped\n\nFlags:\n  -own\n    Own flag\n\nExplicit:\n  -addr string\n    Address\n")
    }

    // MARK: Numbers

    @Test(arguments: [("42", 42), ("-7", -7), ("+7", 7), ("0x1F", 31), ("0o17", 15), ("017", 15), ("0b101", 5), ("1_000", 1000), ("0", 0)])
    func intSyntax(text: String, value: Int) throws {
        #expect(try flags.parse(["-count", text])[flags.count] == value)
    }

    @Test(arguments: [("abc", "expected an integer"), ("1.5", "expected an integer"), ("08", "expected an integer"),
                      ("1__0", "expected an integer"), ("_1", "expected an integer"),
                      ("99999999999999999999", "integer out of range"), ("", "expected an integer")])
    func intErrors(text: String, reason: String) throws {
        let error = try #require(failure(["-count", text]))
        #expect(error.message == "invalid value \(text.debugDescription) for flag -count: \(reason)")
    }

    @Test func uintRejectsNegative() throws {
        #expect(try flags.parse(["-size", "12"])[flags.size] == 12)
        let error = try #require(failure(["-size", "-1"]))
        #expect(error.message.contains("expected a non-negative integer"))
    }

    @Test func durationValues() throws {
        #expect(try flags.parse(["-wait", "1h2m3.5s"])[flags.wait] == .milliseconds(3_723_500))
        let error = try #require(failure(["-wait=abc"]))
        #expect(error.message == #"invalid value "abc" for flag -wait: expected a duration such as 300ms, 1.5s or 2m"#)
        let missingUnit = try #require(failure(["-wait", "5"]))
        #expect(missingUnit.message.contains("missing unit"))
    }

    @Test func customParserErrorsNameTheFlag() throws {
        #expect(try flags.parse(["-mode", "b"])[flags.mode] == "b")
        let error = try #require(failure(["-mode", "c"]))
        #expect(error.message == #"invalid value "c" for flag -mode: expected a or b"#)
        #expect(error.exitStatus == 2)
    }

    // MARK: Errors

    @Test func unknownFlagSuggestsClosest() throws {
        let error = try #require(failure(["-verbos"]))
        #expect(error.code == .unknownFlag)
        #expect(error.message == "flag provided but not defined: -verbos; did you mean -verbose?")
        let far = try #require(failure(["--xyzzy=1"]))
        #expect(far.message == "flag provided but not defined: -xyzzy")
    }

    @Test func missingValueAtEnd() throws {
        let error = try #require(failure(["-name"]))
        #expect(error.code == .missingValue)
        #expect(error.message == "flag needs an argument: -name")
    }

    @Test func missingValueBeforeAnotherFlag() throws {
        let error = try #require(failure(["-name", "-verbose"]))
        #expect(error.code == .missingValue)
        #expect(error.message.hasPrefix("flag needs an argument: -name (the next argument, -verbose, is a flag"))
    }

    @Test(arguments: ["---name", "-=x", "--=x"])
    func badSyntax(argument: String) throws {
        let error = try #require(failure([argument]))
        #expect(error.code == .badSyntax)
        #expect(error.message == "bad flag syntax: \(argument)")
    }

    @Test(arguments: ["-h", "-help", "--help", "--h", "-help=1"])
    func helpRequests(argument: String) throws {
        let error = try #require(failure([argument, "-unknown"]))
        #expect(error.code == .helpRequested)
        #expect(error.exitStatus == 0)
    }

    // MARK: Usage

    @Test func usageIsGroupedLikeGoPrintDefaults() {
        let usage = flags.set.usage()
        let expected = """
            Usage: sample [flags] <dir>

            General:
              -name string
                Name (default "disco")
              -verbose
                Talk more

            Numbers:
              -count int
                How many (default 5)
              -size uint
                How big
              -wait duration
                How long (default 3s)

            Other flags:
              -mode mode
                a or b

            """
        #expect(usage == expected)
    }

    @Test func suggestionDistance() {
        #expect(EditDistance.distance("bootsrap-expect", "bootstrap-expect") == 1)
        #expect(EditDistance.distance("ab", "ba") == 1)
        #expect(EditDistance.suggestion(for: "raft-adr", among: ["raft-addr", "http-addr"]) == "raft-addr")
        #expect(EditDistance.suggestion(for: "zz", among: ["raft-addr"]) == nil)
        // Case was counted as a typo per letter: -VALIDATE and -Node-ID got no suggestion.
        #expect(EditDistance.suggestion(for: "VALIDATE", among: ["validate", "node-id"]) == "validate")
        #expect(EditDistance.suggestion(for: "Node-ID", among: ["validate", "node-id"]) == "node-id")
    }
}

@Suite("Flags: repeatable flags")
struct RepeatedFlagTests {
    @Test func everyOccurrenceIsKeptInOrderAndBooleansAreKnown() throws {
        var set = FlagSet(programName: "t", synopsis: "")
        let limits = set.repeated("limit", usage: "a limit") { text throws(FlagValueError) in
            guard let value = Int(text) else { throw FlagValueError("not a number") }
            return value
        }
        let verbose = set.bool("verbose", usage: "")
        let parsed = try set.parse(["-limit", "3", "-verbose", "--limit=1", "-limit", "2", "rest"])
        #expect(parsed[limits] == [3, 1, 2])
        #expect(parsed[verbose])
        #expect(parsed.positionals == ["rest"])
        #expect(try set.parse([])[limits] == [])
        #expect(try set.parse(["-limit", "7"])[limits] == [7])
        #expect(set.isBoolean("verbose") && !set.isBoolean("limit") && !set.isBoolean("missing"))
        #expect(throws: FlagError.self) { try set.parse(["-limit", "x"]) }
    }

    /// A flag declared givenOnce refuses a second occurrence (any form) naming it; the others
    /// keep Go's rule, the last value wins.
    @Test func aGivenOnceFlagRefusesASecondOccurrenceAndTheOthersKeepTheLast() throws {
        var set = FlagSet(programName: "t", synopsis: "")
        let config = set.string("config", usage: "")
        let addr = set.string("addr", usage: "")
        set.givenOnce(["config"])
        for arguments in [["-config", "a", "-config", "b"], ["-config=a", "--config=a"], ["-config", "a", "-addr", "x", "-config=b"]] {
            #expect(throws: FlagError(code: .givenTwice, flag: "config",
                                      message: "flag -config is given twice; it may be given once (the second would silently replace the first)")) {
                try set.parse(arguments)
            }
        }
        let parsed = try set.parse(["-config", "a", "-addr", "x", "-addr", "y"])
        #expect(parsed[config] == "a" && parsed[addr] == "y")
        #expect(FlagError.givenTwice("config").exitStatus == 2)
    }
}
