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
