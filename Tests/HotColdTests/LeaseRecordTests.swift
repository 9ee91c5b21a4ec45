import DiscoCore
import HotCold
import LeaseCore
import Testing

@Suite("Lease records in a key-value store")
struct LeaseRecordTests {
    @Test func statesRoundTripAfterEveryKindOfCommand() throws {
        var state = LeaseState()
        #expect(try LeaseRecord.decodeState(LeaseRecord.encode(state)) == state)
        let commands: [LeaseCommand] = [
            .grant("orders", to: "b", expectedLastChange: 0),
            .renew("orders", holder: "b", incarnation: UInt64.max - 3, token: 1),
            .move("orders", to: "c"),
            .release("orders", holder: "b", token: 1),
            .grant("orders", to: "c", expectedLastChange: 5),
        ]
        for (offset, command) in commands.enumerated() {
            let (next, result) = state.applying(command, index: UInt64(offset) + 2)
            #expect(result.changedState, "\(command): \(result)")
            state = next
            #expect(try LeaseRecord.decodeState(LeaseRecord.encode(state)) == state)
        }
        #expect(state.token == 2 && state.holder == "c" && state.lastHolder == "c")
    }

    @Test func theHolderTTLRoundTripsAndOlderRecordsReadWithoutIt() throws {
        let (renewed, _) = LeaseState().applying(.grant("orders", to: "b", expectedLastChange: 0), index: 1).state
            .applying(.renew("orders", holder: "b", incarnation: 3, token: 1, ttl: .milliseconds(1500)), index: 2)
        #expect(renewed.holderTTL == .milliseconds(1500))
        let bytes = LeaseRecord.encode(renewed)
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""holder_ttl_ns":1500000000"#))
        #expect(try LeaseRecord.decodeState(bytes) == renewed)
        let older = #"{"holder":"b","token":1,"claimed_by":"3","last_change":2,"move_to":null,"last_holder":"b"}"#
        #expect(try LeaseRecord.decodeState(Array(older.utf8)).holderTTL == nil)
        #expect(!String(decoding: LeaseRecord.encode(LeaseState()), as: UTF8.self).contains("holder_ttl"))
        #expect(throws: ConfigError.self) { try LeaseRecord.decodeState(Array(#"{"holder_ttl_ns":0}"#.utf8)) }
    }

    @Test func applyingMatchesTheTable() {
        var table = LeaseTable()
        var state = LeaseState()
        let commands: [LeaseCommand] = [
            .grant(.default, to: "a", expectedLastChange: 0), .renew(.default, holder: "b", incarnation: 1, token: 1),
            .renew(.default, holder: "a", incarnation: 1, token: 1), .renew(.default, holder: "a", incarnation: 2, token: 1),
            .grant(.default, to: "b", expectedLastChange: 1), .release(.default, holder: "a", token: 1),
        ]
        for (offset, command) in commands.enumerated() {
            let index = UInt64(offset) + 1
            let fromTable = table.apply(command, index: index)
            let (next, result) = state.applying(command, index: index)
            #expect(fromTable == result)
            state = next
            #expect(table[.default] == state)
        }
    }

    @Test func candidaciesRoundTrip() throws {
        let candidate = LeaseCandidate(node: "b", priority: -7, healthy: false, mayBeHot: true)
        #expect(try LeaseRecord.decodeCandidate(LeaseRecord.encode(candidate), node: "b") == candidate)
    }

    @Test func badRecordsAreErrorsNamingTheField() {
        let cases: [(String, String)] = [
            (#"{"holder":"b","token":-1}"#, "\"token\""),
            (#"{"holder":"two words"}"#, "\"holder\""),
            (#"{"claimed_by":"12x"}"#, "\"claimed_by\""),
            (#"{"holdr":"b"}"#, "did you mean \"holder\""),
            (#"["b"]"#, "expected a JSON object"),
            (#"{"holder":"b""#, "lease record"),
        ]
        for (text, words) in cases {
            do {
                _ = try LeaseRecord.decodeState(Array(text.utf8))
                Issue.record("\(text) accepted")
            } catch {
                #expect(error.message.contains(words), "\(text): \(error.message)")
            }
        }
        do {
            _ = try LeaseRecord.decodeCandidate(Array(#"{"priority":2000000}"#.utf8), node: "b")
            Issue.record("priority out of range accepted")
        } catch {
            #expect(error.message.contains("\"priority\"") && error.message.contains("of b"))
        }
    }
}
