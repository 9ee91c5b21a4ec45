import DiscoCore
import Testing
@testable import LeaseCore

@Suite struct LeaseTableTests {
    let group: LeaseGroup = "web"

    @Test func everyGrantGetsTheNextTokenAlsoAfterARelease() {
        var table = LeaseTable()
        #expect(table.apply(.grant(group, to: "a", expectedLastChange: 0), index: 3) == .granted(group, to: "a", token: 1))
        #expect(table.apply(.release(group, holder: "a", token: 1), index: 4) == .released(group, holder: "a", token: 1))
        #expect(table[group].holder == nil && table[group].token == 1 && table[group].lastChange == 4)
        #expect(table[group].lastHolder == "a", "the last holder is remembered after a release")
        #expect(table.apply(.grant(group, to: "a", expectedLastChange: 4), index: 9) == .granted(group, to: "a", token: 2))
        #expect(table.apply(.grant(group, to: "b", expectedLastChange: 9), index: 10) == .granted(group, to: "b", token: 3))
        #expect(table[group].holder == "b" && table[group].lastChange == 10)
    }

    @Test func aGrantBasedOnAnOlderChangeIsRefused() {
        var table = LeaseTable()
        _ = table.apply(.grant(group, to: "a", expectedLastChange: 0), index: 1)
        #expect(table.apply(.renew(group, holder: "a", incarnation: 7, token: 1), index: 2) == .renewed(group, holder: "a", token: 1))
        // The leader looked at index 1; the renewal at 2 committed before its grant.
        #expect(table.apply(.grant(group, to: "b", expectedLastChange: 1), index: 3)
            == .refused(group, .changedSince(expected: 1, actual: 2)))
        #expect(table[group].holder == "a" && table[group].token == 1)
    }

    @Test func renewalsNeedTheHolderItsTokenAndTheClaimingProcess() {
        var table = LeaseTable()
        _ = table.apply(.grant(group, to: "a", expectedLastChange: 0), index: 1)
        #expect(table.apply(.renew(group, holder: "b", incarnation: 1, token: 1), index: 2) == .refused(group, .notHolder(holder: "a")))
        #expect(table.apply(.renew(group, holder: "a", incarnation: 1, token: 2), index: 2) == .refused(group, .staleToken(current: 1)))
        #expect(table.apply(.renew(group, holder: "a", incarnation: 1, token: 1), index: 2) == .renewed(group, holder: "a", token: 1))
        #expect(table[group].claimedBy == 1)
        #expect(table.apply(.renew(group, holder: "a", incarnation: 2, token: 1), index: 3)
            == .refused(group, .claimedByAnotherIncarnation(1)))
        #expect(table[group].lastChange == 2, "a refused command changes nothing")
        // Any process of the holder may release it (a restarted one gives up its predecessor's claim).
        #expect(table.apply(.release(group, holder: "a", token: 1), index: 4) == .released(group, holder: "a", token: 1))
        #expect(table.apply(.renew(group, holder: "a", incarnation: 1, token: 1), index: 5) == .refused(group, .notHolder(holder: nil)))
        #expect(table.apply(.release(group, holder: "a", token: 1), index: 6) == .refused(group, .notHolder(holder: nil)))
    }

    @Test func aMoveIsRememberedUntilTheNextGrant() {
        var table = LeaseTable()
        _ = table.apply(.grant(group, to: "a", expectedLastChange: 0), index: 1)
        #expect(table.apply(.move(group, to: "a"), index: 2) == .refused(group, .alreadyHolder))
        #expect(table.apply(.move(group, to: "b"), index: 3) == .moveRequested(group, to: "b"))
        #expect(table[group].moveTo == "b" && table[group].lastChange == 1, "a move does not restart anyone's ttl")
        _ = table.apply(.release(group, holder: "a", token: 1), index: 4)
        _ = table.apply(.grant(group, to: "b", expectedLastChange: 4), index: 5)
        #expect(table[group].moveTo == nil)
    }

    @Test func groupsAreIndependentAndOldIndexesAreIgnored() {
        var table = LeaseTable()
        _ = table.apply(.grant(group, to: "a", expectedLastChange: 0), index: 5)
        #expect(table.apply(.grant("db", to: "b", expectedLastChange: 0), index: 6) == .granted("db", to: "b", token: 1))
        #expect(table.apply(.renew(group, holder: "a", incarnation: 1, token: 1), index: 5) == .refused(group, .alreadyApplied(lastChange: 5)))
        #expect(table.groups.count == 2)
    }

    /// Any sequence of commands: tokens of successful grants strictly increase, and only the
    /// holder with the current token changes anything but a grant.
    @Test func randomCommandSequencesKeepTokensIncreasing() {
        var random = DeterministicRandom(seed: 11)
        let nodes: [NodeID] = ["a", "b", "c"]
        for _ in 0..<200 {
            var table = LeaseTable()
            var lastToken: UInt64 = 0
            for index in UInt64(1)...60 {
                let state = table[group]
                let node = nodes[Int(random.next() % 3)]
                let token = state.token + random.next() % 2 - (state.token > 0 ? random.next() % 2 : 0)
                let command: LeaseCommand = switch random.next() % 4 {
                case 0: .grant(group, to: node, expectedLastChange: random.next() % 2 == 0 ? state.lastChange : index / 2)
                case 1: .renew(group, holder: node, incarnation: random.next() % 2, token: token)
                case 2: .release(group, holder: node, token: token)
                default: .move(group, to: node)
                }
                let before = table
                switch table.apply(command, index: index) {
                case .granted(_, _, let token):
                    #expect(token == lastToken + 1)
                    lastToken = token
                case .renewed(_, let holder, let token), .released(_, let holder, let token):
                    #expect(before[group].holder == holder && before[group].token == token)
                case .moveRequested, .refused:
                    #expect(table[group].token == before[group].token && table[group].holder == before[group].holder)
                }
            }
        }
    }

    @Test func renewalsRecordTheHolderTTLUntilTheNextGrantOrRelease() {
        var table = LeaseTable()
        _ = table.apply(.grant(group, to: "a", expectedLastChange: 0), index: 1)
        #expect(table[group].holderTTL == nil)
        _ = table.apply(.renew(group, holder: "a", incarnation: 7, token: 1, ttl: .seconds(2)), index: 2)
        #expect(table[group].holderTTL == .seconds(2))
        _ = table.apply(.renew(group, holder: "b", incarnation: 7, token: 1, ttl: .seconds(9)), index: 3)
        #expect(table[group].holderTTL == .seconds(2), "a refused renewal changes nothing")
        _ = table.apply(.grant(group, to: "b", expectedLastChange: 2), index: 4)
        #expect(table[group].holderTTL == nil, "the new holder is not hot before its own renewal")
        _ = table.apply(.renew(group, holder: "b", incarnation: 1, token: 2, ttl: .milliseconds(500)), index: 5)
        _ = table.apply(.release(group, holder: "b", token: 2), index: 6)
        #expect(table[group].holderTTL == nil)
    }
}
