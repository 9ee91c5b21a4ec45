import DiscoCore
import DiscoNet
import LeaseCore
import Testing
@testable import HotColdNode

/// `POST /hot/move?to=ID` is refused before anything is proposed when `ID` could not be made hot.
@Suite struct HotColdMoveRefusalTests {
    let candidates = [
        LeaseCandidate(node: "a"),
        LeaseCandidate(node: "b", healthy: false),
        LeaseCandidate(node: "c", mayBeHot: false),
        LeaseCandidate(node: "d", inTouch: false),
    ]

    func refusal(_ target: NodeID) -> (Int, String)? {
        HotColdRole.moveRefusal(to: target, group: "orders", candidates: candidates, members: ["a", "b", "c", "d", "e"])
            .map { ($0.status, String(decoding: $0.body.fixedBytes ?? [], as: UTF8.self)) }
    }

    @Test func onlyAnEligibleReplicaIsAcceptedAndEveryRefusalSaysWhy() throws {
        #expect(refusal("a") == nil)
        let cases: [(NodeID, Int, String)] = [
            ("b", 409, "its upstream is unhealthy"), ("c", 409, "runs with -no-hot"),
            ("d", 409, "not alive"), ("e", 409, "not a replica of hot/cold group orders"), ("zz", 404, "no node zz"),
        ]
        for (target, status, words) in cases {
            let answer = try #require(refusal(target), "\(target) accepted")
            #expect(answer.0 == status, "\(target): \(answer.1)")
            #expect(answer.1.contains(words) && answer.1.contains(#""eligible":["a"]"#), "\(target): \(answer.1)")
        }
    }
}

/// `POST /hot/move?to=ID` with an ID holding characters a query escapes.
@Suite struct HotMoveTargetParameterTests {
    func target(_ query: String?) -> NodeID? {
        if case .success(let node) = HotColdRole.moveTarget(query: query) { return node }
        return nil
    }

    @Test func theTargetIsPercentDecoded() {
        #expect(target("to=a%26b%23c%2Bd%25") == "a&b#c+d%")
        #expect(target("to=node-2") == "node-2")
        #expect(target("to=a&b") == nil, "an unescaped & ends the value, and b is no parameter of /hot/move")
        #expect(target("x=1&to=node-2") == nil, "x is no parameter of /hot/move")
        #expect(target(nil) == nil)
        #expect(target("to=") == nil)
    }
}
