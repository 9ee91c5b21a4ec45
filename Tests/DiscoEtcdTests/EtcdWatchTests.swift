import DiscoCore
import Testing
@testable import DiscoEtcd
import DiscoTestKit

/// Watches as one streaming request against a real etcd: order, resume, compaction, restarts.
@Suite(.serialized) struct EtcdWatchTests {
    /// Reads batches until `count` events arrived (transient failures are retried, as a caller would).
    func events(_ watch: EtcdWatch, count: Int) async throws -> [EtcdWatchEvent] {
        var seen: [EtcdWatchEvent] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while seen.count < count {
            guard ContinuousClock.now < deadline else {
                Issue.record("only \(seen.count) of \(count) watch events arrived within 60s")
                return seen
            }
            let batch: Result<EtcdWatchBatch, EtcdError>
            do throws(EtcdError) { batch = .success(try await watch.next()) } catch { batch = .failure(error) }
            switch batch {
            case .success(let batch): seen += batch.events
            case .failure(let error) where error.isTransient: try await Task.sleep(for: .milliseconds(100))  // back-off, then reconnect
            case .failure(let error): throw error
            }
        }
        return seen
    }

    @Test func streamsPutsAndDeletesUnderThePrefixInRevisionOrder() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let start = try await client.put("/other", [])
            let watch = EtcdWatch(client: client, prefix: "/w/", from: start + 1)
            defer { watch.close() }
            try await client.put("/w/a", [UInt8]("1"))
            try await client.put("/wx", [UInt8]("not under the prefix"))
            try await client.put("/w/b", [UInt8]("2"))
            try await client.delete("/w/a")
            let seen = try await events(watch, count: 3)
            #expect(seen.map(\.key) == ["/w/a", "/w/b", "/w/a"])
            guard case .put(let first) = seen[0], case .delete(_, let deletedAt) = seen[2] else {
                Issue.record("expected put, put, delete: \(seen)")
                return
            }
            #expect(first.text == "1" && first.modRevision == start + 1)
            #expect(deletedAt == start + 4 && seen.map(\.revision) == seen.map(\.revision).sorted())
            #expect(watch.nextRevision == start + 5)
        }
    }

    @Test func resumesAfterEtcdRestartsWithoutLosingOrRepeatingEvents() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let start = try await client.put("/w/0", [UInt8]("0"))
            let watch = EtcdWatch(client: client, prefix: "/w/", from: start)
            defer { watch.close() }
            #expect(try await events(watch, count: 1).map(\.key) == ["/w/0"])
            await etcd.stopMember(0)
            do throws(EtcdError) {
                _ = try await watch.next()
                Issue.record("the watch did not report that etcd went away")
            } catch {
                #expect(error.isTransient && error.description.contains("watch /w/"), "\(error)")
            }
            try await etcd.restartMember(0)
            for index in 1...5 { try await client.put("/w/\(index)", [UInt8]("\(index)")) }
            let after = try await events(watch, count: 5)
            #expect(after.map(\.key) == (1...5).map { "/w/\($0)" }, "the watch resumes after the last revision it delivered")
        }
    }

    @Test func aWatchFromACompactedRevisionSaysSo() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let first = try await client.put("/c/a", [UInt8]("1"))
            try await client.put("/c/a", [UInt8]("2"))
            let last = try await client.put("/c/a", [UInt8]("3"))
            try await client.compact(revision: last)
            let watch = EtcdWatch(client: client, prefix: "/c/", from: first)
            defer { watch.close() }
            do throws(EtcdError) {
                let batch = try await watch.next()
                Issue.record("a compacted watch delivered \(batch)")
            } catch {
                #expect(error.kind == .compacted(compactRevision: last), "\(error)")
                #expect(!error.isTransient)
            }
        }
    }

    @Test func failsOverToAnotherMemberMidStream() async throws {
        try await withEtcd(members: 3) { etcd in
            let client = etcdClient(etcd.endpoints, timeout: .seconds(2))
            // The writes must succeed: they get the default 30 s, since the first one after a
            // member stopped may wait for an election that a loaded machine stretches past 2 s.
            let writer = etcdClient(etcd.endpoints)
            let start = try await writer.put("/m/0", [])
            let watch = EtcdWatch(client: client, prefix: "/m/", from: start + 1)
            defer { watch.close() }
            try await writer.put("/m/1", [])
            #expect(try await events(watch, count: 1).map(\.key) == ["/m/1"])
            await etcd.stopMember(0)
            try await writer.put("/m/2", [])
            try await writer.put("/m/3", [])
            #expect(try await events(watch, count: 2).map(\.key) == ["/m/2", "/m/3"])
        }
    }

    @Test func linesAreSplitAcrossPieces() {
        var splitter = LineSplitter(maxLineLength: 16)
        #expect(splitter.feed([UInt8]("{\"a\"")) == [])
        #expect(splitter.feed([UInt8](":1}\r\n\n{\"b\":2}\n{")) == [[UInt8]("{\"a\":1}"), [UInt8]("{\"b\":2}")])
        #expect(splitter.finish() == [UInt8]("{"))
        #expect(splitter.feed([UInt8](String(repeating: "x", count: 17))) == nil, "a line past the limit is refused")
    }

    /// Each watch message decodes to a batch, to nil for the creation acknowledgement, or to an
    /// error that says something even when etcd's own message is empty (found by Fuzz/EtcdWatch).
    @Test func watchMessagesDecodeOrFailWithAMessage() throws {
        func decode(_ line: String) throws(EtcdError) -> EtcdWatchBatch? {
            try EtcdWatch.decode(Array(line.utf8), endpoint: "http://e:2379", operation: "watch /d/*", resumingAt: 7)
        }
        #expect(try decode(#"{"result":{"header":{"revision":"9"},"created":true}}"#) == nil)
        let batch = try #require(try decode(#"{"result":{"header":{"revision":"12"},"events":[{"kv":{"key":"YQ==","value":"aGk=","create_revision":"11","mod_revision":"11","version":"1"}},{"type":"DELETE","kv":{"key":"Yg==","mod_revision":"12"}}]}}"#))
        #expect(batch == EtcdWatchBatch(events: [.put(EtcdKeyValue(key: "a", value: Array("hi".utf8), createRevision: 11, modRevision: 11, version: 1)),
                                                 .delete(key: "b", revision: 12)], revision: 12))
        for (line, expected) in [(#"{"error":{"grpc_code":14,"message":""}}"#, "an error without a message"),
                                 (#"{"result":{"canceled":true,"cancel_reason":""}}"#, "canceled the watch without a reason"),
                                 (#"{"result":{"compact_revision":"5"}}"#, "compacted the revisions from 7 on"),
                                 ("[1]", "not a JSON object")] {
            do throws(EtcdError) {
                _ = try decode(line)
                Issue.record("\(line) decoded")
            } catch {
                #expect(error.message.contains(expected), "\(line): \(error.message)")
            }
        }
    }
}
