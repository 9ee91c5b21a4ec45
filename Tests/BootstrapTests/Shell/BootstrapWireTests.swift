import DiscoCore
import Testing
@testable import Bootstrap

@Suite struct BootstrapWireTests {
    let a = BootstrapPeer(id: "a", raftAddress: "10.0.0.1:4002", apiAddress: "10.0.0.1:4001")
    let b = BootstrapPeer(id: "b", raftAddress: "10.0.0.2:4002", apiAddress: "10.0.0.2:4001", voter: false)

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func error(_ body: () throws(BootstrapWireError) -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return error.message
        }
    }

    // MARK: URLs

    @Test func apiURLsCarryTheClusterScheme() {
        #expect(BootstrapWire.apiURL("10.0.0.1:4001") == "http://10.0.0.1:4001")
        #expect(BootstrapWire.apiURL("10.0.0.1:4001", scheme: .https) == "https://10.0.0.1:4001")
        #expect(BootstrapWire.apiURL("http://10.0.0.1:4001", scheme: .https) == "http://10.0.0.1:4001")
        #expect(BootstrapClient.resolve("/join", against: "https://10.0.0.1:4001/join") == "https://10.0.0.1:4001/join")
        #expect(BootstrapClient.resolve("https://10.0.0.2:4001/join", against: "http://h:1/join") == "https://10.0.0.2:4001/join")
        #expect(BootstrapClient.authority(of: "https://10.0.0.2:4001/join") == "10.0.0.2:4001")
        let client = BootstrapClient(apiScheme: .https)
        #expect(client.baseURL(PeerAddress(host: "h", port: 1)) == "https://h:1")
        #expect(client.baseURL(PeerAddress(host: "h", port: 1, scheme: .http)) == "http://h:1")
    }

    // MARK: Notify

    @Test func notifyRoundTripsAndWritesURLs() throws {
        let request = NotifyRequest(sender: a, cluster: "disco", expect: 3, known: [a, b])
        let encoded = BootstrapWire.encode(request)
        #expect(String(decoding: encoded, as: UTF8.self).hasPrefix(
            #"{"id":"a","addr":"10.0.0.1:4002","api_addr":"http://10.0.0.1:4001","cluster":"disco","expect":3,"voter":true,"known":["#))
        #expect(try BootstrapWire.decodeNotifyRequest(encoded) == request)
    }

    @Test func nodeKeysAndKeyHashesRoundTripAndAreChecked() throws {
        let hash = String(repeating: "0f", count: 32)
        let keyed = BootstrapPeer(id: "c", raftAddress: "10.0.0.3:4002", apiAddress: "10.0.0.3:4001", keyHash: hash)
        let notify = NotifyRequest(sender: keyed, cluster: "disco", expect: 3, known: [keyed, a], nodeKey: String(repeating: "1a", count: 32))
        #expect(try BootstrapWire.decodeNotifyRequest(BootstrapWire.encode(notify)) == notify)
        let join = JoinRequest(node: keyed, cluster: "disco", epoch: 9, nodeKey: String(repeating: "AB", count: 32))
        let decoded = try BootstrapWire.decodeJoinRequest(BootstrapWire.encode(join))
        #expect(decoded.nodeKey == String(repeating: "ab", count: 32))  // read as lowercase
        #expect(decoded.node.keyHash == hash)
        let base = #""id":"a","addr":"10.0.0.1:4002","api_addr":"10.0.0.1:4001","cluster":"disco""#
        let badKey = bytes("{\(base),\"node_key\":\"xyz\"}")
        let badHash = bytes("{\(base),\"key_hash\":7}")
        #expect(error { () throws(BootstrapWireError) in _ = try BootstrapWire.decodeJoinRequest(badKey) }
            == #""node_key" must be 64 hexadecimal digits, got "xyz""#)
        #expect(error { () throws(BootstrapWireError) in _ = try BootstrapWire.decodeJoinRequest(badHash) }?
            .hasPrefix(#""key_hash" must be 64 hexadecimal digits"#) == true)
    }

    @Test func apiAddressAcceptsHostPortOrURL() throws {
        for text in ["10.0.0.1:4001", "http://10.0.0.1:4001", "http://10.0.0.1:4001/", "https://10.0.0.1:4001"] {
            let request = try BootstrapWire.decodeNotifyRequest(bytes(
                #"{"id":"a","addr":"10.0.0.1:4002","api_addr":"\#(text)","cluster":"disco","expect":3}"#))
            #expect(request.sender.apiAddress == "10.0.0.1:4001")
            #expect(request.known.isEmpty && request.sender.voter)
        }
    }

    @Test func notifyErrorsNameTheFieldAndWhatWasExpected() {
        let base = #""id":"a","addr":"10.0.0.1:4002","api_addr":"10.0.0.1:4001","cluster":"disco""#
        let cases: [(String, String)] = [
            (#"{\#(base),"expect":"x"}"#, #""expect" must be a positive integer, got "x""#),
            (#"{\#(base),"expect":0}"#, #""expect" must be a positive integer, got 0"#),
            (#"{\#(base),"expect":2.5}"#, #""expect" must be a positive integer, got 2.5"#),
            (#"{\#(base)}"#, #""expect" is missing; expected a positive integer"#),
            (#"{\#(base),"expect":3,"voter":"yes"}"#, #""voter" must be true or false, got "yes""#),
            (#"{\#(base),"expect":3,"known":[{"id":"b","addr":"h:1","api_addr":"ftp://h:2"}]}"#,
             #""known[0].api_addr" must be an API address host:port or http(s)://host:port, got "ftp://h:2""#),
            (#"{\#(base),"expect":3,"known":[7]}"#, #""known[0]" must be a JSON object, got a number"#),
            (#"{"id":"","addr":"h:1","api_addr":"h:2","cluster":"c","expect":1}"#, #""id" must be a node ID"#),
            (#"{"id":"a","addr":"http://h:1","api_addr":"h:2","cluster":"c","expect":1}"#, #""addr" must be a Raft address host:port, got "http://h:1" (no URL scheme here)"#),
            ("[1]", "the body must be a JSON object, got an array"),
            ("{", "the body is not valid JSON"),
        ]
        for (body, expected) in cases {
            let message = error { () throws(BootstrapWireError) in _ = try BootstrapWire.decodeNotifyRequest(bytes(body)) }
            #expect(message?.contains(expected) == true, "\(body) gave \(message ?? "no error"), expected \(expected)")
        }
    }

    @Test func notifyRepliesRoundTrip() throws {
        for reply in [NotifyReply.forming(responder: a, known: [a, b]), .clustered(responder: b), .mismatch("cluster \"x\" vs \"y\"")] {
            let (status, body) = BootstrapWire.encode(reply)
            #expect(try BootstrapWire.decodeNotifyReply(status: status, body: body) == reply)
        }
        #expect(String(decoding: BootstrapWire.encode(NotifyReply.clustered(responder: a)).body, as: UTF8.self)
            == #"{"state":"clustered","id":"a","addr":"10.0.0.1:4002","api_addr":"http://10.0.0.1:4001","voter":true}"#)
        let message = error { () throws(BootstrapWireError) in
            _ = try BootstrapWire.decodeNotifyReply(status: 500, body: BootstrapWire.errorBody("boom"))
        }
        #expect(message == "unexpected status 500 answering POST /notify: boom")
        let state = error { () throws(BootstrapWireError) in
            _ = try BootstrapWire.decodeNotifyReply(status: 200, body: bytes(#"{"state":"odd","id":"a","addr":"h:1","api_addr":"h:2"}"#))
        }
        #expect(state == #""state" must be "forming" or "clustered", got "odd""#)
    }

    // MARK: Proposals

    @Test func proposalsAbandonsAndStatusRoundTrip() throws {
        let proposal = Proposal(id: ProposalID(proposer: "a", sequence: 7), cluster: "disco", expect: 2, voters: [a, b])
        #expect(try BootstrapWire.decodeProposal(BootstrapWire.encode(proposal)) == proposal)
        for reply in [ProposalReply.accepted, .refused("promised to proposal z#1")] {
            let (status, body) = BootstrapWire.encode(reply)
            #expect(try BootstrapWire.decodeProposalReply(status: status, body: body) == reply)
        }
        #expect(try BootstrapWire.decodeAbandon(BootstrapWire.encodeAbandon(proposal.id)) == proposal.id)
        for status in [ProposalStatus.bootstrapped, .abandoned, .pending] {
            #expect(try BootstrapWire.decodeStatus(status: 200, body: BootstrapWire.encode(status)) == status)
        }
    }

    @Test func proposalsMustStartWithTheProposerAndListDistinctVoters() {
        let proposal = Proposal(id: ProposalID(proposer: "b", sequence: 1), cluster: "disco", expect: 2, voters: [a, b])
        let message = error { () throws(BootstrapWireError) in _ = try BootstrapWire.decodeProposal(BootstrapWire.encode(proposal)) }
        #expect(message == #""voters" must start with the proposer b, got a"#)
        let twice = Proposal(id: ProposalID(proposer: "a", sequence: 1), cluster: "disco", expect: 2, voters: [a, a])
        let duplicate = error { () throws(BootstrapWireError) in _ = try BootstrapWire.decodeProposal(BootstrapWire.encode(twice)) }
        #expect(duplicate == #""voters" must list distinct node IDs, got duplicates"#)
    }

    @Test func statusQueryEscapesAnyNodeID() throws {
        let id = ProposalID(proposer: "a&b=c%d/é", sequence: 42)
        let query = BootstrapWire.statusQuery(id)
        #expect(query == "proposer=a%26b%3Dc%25d%2F%C3%A9&sequence=42")
        #expect(try BootstrapWire.decodeStatusQuery(query) == id)
        let message = error { () throws(BootstrapWireError) in _ = try BootstrapWire.decodeStatusQuery("proposer=a&sequence=x") }
        #expect(message == #""sequence" must be a positive integer, got "x""#)
        let broken = error { () throws(BootstrapWireError) in _ = try BootstrapWire.decodeStatusQuery("proposer=%zz&sequence=1") }
        #expect(broken?.contains("percent-encoding") == true)
    }

    // MARK: Join

    @Test func joinMessagesRoundTrip() throws {
        let request = JoinRequest(node: b, cluster: "disco", epoch: 3)
        #expect(try BootstrapWire.decodeJoinRequest(BootstrapWire.encode(request)) == request)
        let fresh = JoinRequest(node: a, cluster: "disco")
        #expect(!String(decoding: BootstrapWire.encode(fresh), as: UTF8.self).contains("epoch"))
        #expect(try BootstrapWire.decodeJoinRequest(BootstrapWire.encode(fresh)) == fresh)
        let accepted = JoinAccepted(leader: ClusterLeader(id: "a", apiAddress: "10.0.0.1:4001", raftAddress: "10.0.0.1:4002"),
                                    cluster: "disco", epoch: 1)
        let encoded = BootstrapWire.encode(accepted)
        #expect(String(decoding: encoded, as: UTF8.self)
            == #"{"leader":{"id":"a","api_addr":"http://10.0.0.1:4001","addr":"10.0.0.1:4002"},"cluster":"disco","epoch":1}"#)
        #expect(try BootstrapWire.decodeJoinAccepted(encoded) == accepted)
        #expect(BootstrapWire.decodeLeader(in: BootstrapWire.notLeaderBody(accepted.leader)) == accepted.leader)
        let epoch = error { () throws(BootstrapWireError) in
            _ = try BootstrapWire.decodeJoinRequest(bytes(#"{"id":"a","addr":"h:1","api_addr":"h:2","cluster":"c","epoch":-1}"#))
        }
        #expect(epoch == #""epoch" must be a non-negative integer, got -1"#)
    }

    @Test func peersCarryTheirGenerationWhenTheySendOne() throws {
        var node = b
        node.generation = 1_764_900_000_123
        let join = JoinRequest(node: node, cluster: "disco", epoch: 3)
        let text = String(decoding: BootstrapWire.encode(join), as: UTF8.self)
        #expect(text.contains(#""generation":1764900000123"#))
        #expect(try BootstrapWire.decodeJoinRequest(BootstrapWire.encode(join)).node.generation == 1_764_900_000_123)
        let notify = NotifyRequest(sender: node, cluster: "disco", expect: 3, known: [node, a])
        #expect(try BootstrapWire.decodeNotifyRequest(BootstrapWire.encode(notify)) == notify)
        // Older senders send none: decoded as unknown (nil).
        #expect(try BootstrapWire.decodeJoinRequest(bytes(#"{"id":"a","addr":"h:1","api_addr":"h:2","cluster":"c"}"#)).node.generation == nil)
        let negative = error { () throws(BootstrapWireError) in
            _ = try BootstrapWire.decodeJoinRequest(bytes(#"{"id":"a","addr":"h:1","api_addr":"h:2","cluster":"c","generation":-2}"#))
        }
        #expect(negative == #""generation" must be a non-negative integer, got -2"#)
    }
}
