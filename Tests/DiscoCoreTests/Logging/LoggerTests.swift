import Synchronization
import Testing
@testable import DiscoCore

@Suite struct LoggerTests {
    /// 2026-11-21T00:52:03.123Z
    let clock = LogClock { 1_795_222_323_123_456_789 }

    @Test func logfmtLine() {
        let sink = MemoryLogSink()
        var logger = Logger(label: "raft", level: .info, handler: LogfmtHandler(sink: sink, clock: clock))
        logger[metadataKey: "node"] = "n1"
        logger.info("became leader", metadata: ["term": "3", "peers": ["a:1", "b:2"]])
        #expect(sink.lines == [#"ts=2026-11-21T00:52:03.123Z level=info logger=raft msg="became leader" node=n1 peers=a:1,b:2 term=3"# + "\n"])
    }

    @Test func logfmtQuoting() {
        #expect(LogfmtHandler.quote("plain") == "plain")
        #expect(LogfmtHandler.quote("") == #""""#)
        #expect(LogfmtHandler.quote("a b") == #""a b""#)
        #expect(LogfmtHandler.quote("k=v") == #""k=v""#)
        #expect(LogfmtHandler.quote(#"say "hi""#) == #""say \"hi\"""#)
        #expect(LogfmtHandler.quote("back\\slash") == #""back\\slash""#)
        #expect(LogfmtHandler.quote("line\nbreak\ttab\u{1}") == #""line\nbreak\ttab\u0001""#)
        #expect(LogfmtHandler.quote("héllo") == "héllo")
    }

    @Test func logfmtNestedAndOddKeys() {
        let sink = MemoryLogSink()
        let logger = Logger(label: "x y", handler: LogfmtHandler(sink: sink, clock: clock))
        logger.warning("m", metadata: ["peer": ["id": "n2", "addr": "h:1"], "bad key=": "v"])
        #expect(sink.lines.first == #"ts=2026-11-21T00:52:03.123Z level=warning logger="x y" msg=m bad_key_=v peer.addr=h:1 peer.id=n2"# + "\n")
    }

    @Test func jsonLine() throws {
        let sink = MemoryLogSink()
        let logger = Logger(label: "http", level: .debug, metadata: ["node": "n1"], handler: JSONLinesHandler(sink: sink, clock: clock))
        logger.debug("request \"done\"", metadata: ["status": "200", "msg": "clash", "tags": ["a"], "peer": ["id": "n2"]])
        let line = try #require(sink.lines.first)
        #expect(line.hasSuffix("\n"))
        #expect(line == #"{"ts":"2026-11-21T00:52:03.123Z","level":"debug","logger":"http","msg":"request \"done\"","meta.msg":"clash","node":"n1","peer":{"id":"n2"},"status":"200","tags":["a"]}"# + "\n")
        #expect(try JSONValue.parse(String(line.dropLast()))["msg"] == "request \"done\"")
    }

    @Test func disabledLevelsDoNotEvaluateMessages() {
        let sink = MemoryLogSink()
        let logger = Logger(label: "l", level: .warning, handler: LogfmtHandler(sink: sink, clock: clock))
        let evaluated = Atomic<Int>(0)
        func expensive() -> String {
            evaluated.add(1, ordering: .relaxed)
            return "costly"
        }
        logger.info(expensive())
        logger.debug(expensive(), metadata: ["k": .string(expensive())])
        #expect(evaluated.load(ordering: .relaxed) == 0)
        logger.error(expensive())
        #expect(evaluated.load(ordering: .relaxed) == 1)
        #expect(sink.lines.count == 1)
        #expect(!logger.isEnabled(.notice))
        #expect(logger.isEnabled(.critical))
    }

    @Test func everyLevelMethodUsesItsLevel() {
        let sink = MemoryLogSink()
        let logger = Logger(label: "l", level: .trace, handler: LogfmtHandler(sink: sink, clock: clock))
        logger.trace("m")
        logger.debug("m")
        logger.info("m")
        logger.notice("m")
        logger.warning("m")
        logger.error("m")
        logger.critical("m")
        let levels = sink.lines.map { line in line.split(separator: " ")[1] }
        #expect(levels == ["level=trace", "level=debug", "level=info", "level=notice", "level=warning", "level=error", "level=critical"])
    }

    @Test(arguments: [("info", Logger.Level.info), ("DEBUG", .debug), ("warn", .warning), ("warning", .warning), ("critical", .critical), ("trace", .trace)])
    func parsesLevels(text: String, level: Logger.Level) throws {
        #expect(try Logger.Level(parsing: text) == level)
    }

    @Test func rejectsUnknownLevelAndFormat() {
        #expect(throws: FlagValueError("expected one of trace, debug, info, notice, warning, error, critical")) {
            try Logger.Level(parsing: "verbose")
        }
        #expect(throws: FlagValueError("expected text or json")) { try LogFormat(parsing: "xml") }
        #expect(throws: Never.self) { try LogFormat(parsing: "JSON") }
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (951_782_400_000_000_000, "2000-02-29T00:00:00.000Z"),
        (-1_000_000, "1969-12-31T23:59:59.999Z"),
        (4_102_444_799_999_000_000, "2099-12-31T23:59:59.999Z"),
    ])
    func formatsTimestamps(nanoseconds: Int64, text: String) {
        #expect(LogClock.rfc3339(nanoseconds: nanoseconds) == text)
    }
}
