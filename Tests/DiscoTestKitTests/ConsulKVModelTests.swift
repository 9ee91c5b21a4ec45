import Foundation
import Testing
@testable import DiscoTestKit

@Suite struct ConsulKVModelTests {
    typealias Request = ConsulKVModel.Request

    func respond(_ model: inout ConsulKVModel, _ request: Request, at now: Duration = .zero) -> ConsulKVModel.Response {
        guard case .respond(let response) = model.handle(request, now: now) else {
            Issue.record("expected an immediate response to \(request.method) \(request.path)")
            return .init(status: 0, headers: [], body: [])
        }
        return response
    }

    func put(_ key: String, _ value: String, _ query: [(name: String, value: String)] = []) -> Request {
        Request(method: "PUT", path: "/v1/kv/\(key)", query: query, body: Array(value.utf8))
    }

    func text(_ response: ConsulKVModel.Response) -> String { String(decoding: response.body, as: UTF8.self) }

    func header(_ response: ConsulKVModel.Response, _ name: String) -> String? {
        response.headers.first(where: { $0.name == name })?.value
    }

    func createSession(_ model: inout ConsulKVModel, _ body: String, at now: Duration = .zero) throws -> String {
        let response = respond(&model, Request(method: "PUT", path: "/v1/session/create", body: Array(body.utf8)), at: now)
        #expect(response.status == 200, "\(text(response))")
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return try #require(object?["ID"] as? String)
    }

    @Test func missingKeyIs404AndPresentKeyIsBase64Array() throws {
        var model = ConsulKVModel()
        #expect(respond(&model, Request(method: "GET", path: "/v1/kv/disco/leader")).status == 404)
        #expect(text(respond(&model, put("disco/leader", "hello"))) == "true")
        let response = respond(&model, Request(method: "GET", path: "/v1/kv/disco/leader"))
        #expect(response.status == 200)
        let array = try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]]
        let entry = try #require(array?.first)
        #expect(entry["Value"] as? String == Data("hello".utf8).base64EncodedString())
        #expect(header(response, "X-Consul-Index") == "\(entry["ModifyIndex"] as? Int ?? -1)")
    }

    @Test func casZeroCreatesOnlyOnceAmongTenWriters() {
        var model = ConsulKVModel()
        let wins = (0..<10).filter { writer in
            text(respond(&model, put("k", "writer \(writer)", [("cas", "0")]))) == "true"
        }
        #expect(wins == [0])
    }

    @Test func staleCasIndexFails() throws {
        var model = ConsulKVModel()
        _ = respond(&model, put("k", "a"))
        let first = try #require(model.entries["k"]?.modifyIndex)
        #expect(text(respond(&model, put("k", "b", [("cas", "\(first)")]))) == "true")
        #expect(text(respond(&model, put("k", "c", [("cas", "\(first)")]))) == "false")
        #expect(model.entries["k"]?.value == Array("b".utf8))
    }

    @Test func sessionTTLBoundsAreEnforced() {
        var model = ConsulKVModel()
        let response = respond(&model, Request(method: "PUT", path: "/v1/session/create", body: Array(#"{"TTL":"5s"}"#.utf8)))
        #expect(response.status == 400)
        #expect(text(response).contains("must be between [10s=24h0m0s]"))
    }

    @Test func deleteBehaviorRemovesHeldKeyAfterTwiceTheTTL() throws {
        var model = ConsulKVModel()
        let session = try createSession(&model, #"{"TTL":"10s","Behavior":"delete","LockDelay":"0s"}"#)
        #expect(text(respond(&model, put("leader", "me", [("acquire", session)]))) == "true")
        _ = respond(&model, Request(method: "PUT", path: "/v1/session/renew/\(session)"), at: .seconds(15))
        #expect(respond(&model, Request(method: "GET", path: "/v1/kv/leader"), at: .seconds(34)).status == 200)
        #expect(respond(&model, Request(method: "GET", path: "/v1/kv/leader"), at: .seconds(35)).status == 404)
        #expect(text(respond(&model, Request(method: "GET", path: "/v1/session/info/\(session)"), at: .seconds(35))) == "[]")
    }

    @Test func lockDelayBlocksReacquisitionAfterInvalidation() throws {
        var model = ConsulKVModel()
        let first = try createSession(&model, #"{"LockDelay":"15s"}"#)
        #expect(text(respond(&model, put("l", "1", [("acquire", first)]))) == "true")
        let second = try createSession(&model, "")
        #expect(text(respond(&model, put("l", "2", [("acquire", second)]))) == "false", "held by another session")
        _ = respond(&model, Request(method: "PUT", path: "/v1/session/destroy/\(first)"), at: .seconds(1))
        #expect(text(respond(&model, put("l", "2", [("acquire", second)]), at: .seconds(10))) == "false", "within lock-delay")
        #expect(text(respond(&model, put("l", "2", [("acquire", second)]), at: .seconds(17))) == "true")
        #expect(model.entries["l"]?.lockIndex == 2)
    }

    @Test func transactionIsAllOrNothing() throws {
        var model = ConsulKVModel()
        let session = try createSession(&model, "")
        let value = Data("v".utf8).base64EncodedString()
        let create = #"[{"KV":{"Verb":"check-not-exists","Key":"k"}},{"KV":{"Verb":"lock","Key":"k","Value":"\#(value)","Session":"\#(session)"}}]"#
        #expect(respond(&model, Request(method: "PUT", path: "/v1/txn", body: Array(create.utf8))).status == 200)
        #expect(model.entries["k"]?.session == session)
        let again = respond(&model, Request(method: "PUT", path: "/v1/txn", body: Array(create.utf8)))
        #expect(again.status == 409)
        #expect(text(again).contains(#"key \"k\" exists"#))
        let before = model.index
        let partial = #"[{"KV":{"Verb":"set","Key":"other","Value":"\#(value)"}},{"KV":{"Verb":"check-index","Key":"k","Index":999}}]"#
        #expect(respond(&model, Request(method: "PUT", path: "/v1/txn", body: Array(partial.utf8))).status == 409)
        #expect(model.entries["other"] == nil && model.index == before, "a failed transaction applies nothing")
    }

    @Test func blockingQueryWaitsUntilIndexMoves() throws {
        var model = ConsulKVModel()
        _ = respond(&model, put("k", "a"))
        let index = try #require(model.entries["k"]?.modifyIndex)
        let blocking = Request(method: "GET", path: "/v1/kv/k", query: [("index", "\(index)"), ("wait", "2s")])
        guard case .wait(let after, let wait) = model.handle(blocking, now: .zero) else {
            Issue.record("expected the query to block")
            return
        }
        #expect(after == index && wait == .seconds(2))
        _ = respond(&model, put("k", "b"))
        #expect(respond(&model, blocking).status == 200)
    }

    @Test func tokenIsRequiredWhenConfigured() {
        var model = ConsulKVModel(token: "secret")
        #expect(respond(&model, put("k", "v")).status == 403)
        var request = put("k", "v")
        request.headers = [("X-Consul-Token", "secret")]
        #expect(respond(&model, request).status == 200)
        request.headers = [("Authorization", "Bearer secret")]
        #expect(respond(&model, request).status == 200)
    }
}
