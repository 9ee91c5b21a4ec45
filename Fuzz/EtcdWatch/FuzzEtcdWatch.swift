// libFuzzer entry point for the etcd watch stream as the etcd engine reads it: the byte stream
// split into lines (LineSplitter, fed in pieces of any size) and each line decoded as a watch
// message (EtcdWatch.decode: JSON from etcd's gateway, base64 keys and values, int64s as strings).
//
// Every line must decode to a batch, to nil (the creation acknowledgement) or to an EtcdError
// with a message, never crash; a decoded batch must read back the same from its canonical
// encoding; and the lines must not depend on how the stream was cut into pieces.

import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEtcdWatch(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let cut = input.first else { return 0 }
    let stream = Array(input.dropFirst())

    // Lines: the same whether the stream arrives whole or in pieces of `cut` bytes.
    var whole = LineSplitter(maxLineLength: 1 << 16)
    let all = (whole.feed(stream) ?? []) + [whole.finish()].compactMap { $0 }
    var pieces = LineSplitter(maxLineLength: 1 << 16)
    var lines: [[UInt8]] = []
    let step = max(1, Int(cut))
    var start = 0
    while start < stream.count {
        guard let finished = pieces.feed(Array(stream[start..<min(stream.count, start + step)])) else {
            preconditionFailure("a line under the limit was refused")
        }
        lines += finished
        start += step
    }
    lines += [pieces.finish()].compactMap { $0 }
    precondition(lines == all, "lines depend on how the stream was cut: \(lines) vs \(all)")
    precondition(lines.allSatisfy { !$0.isEmpty && !$0.contains(UInt8(ascii: "\n")) }, "an empty line or a newline inside a line")

    for line in lines {
        let batch: EtcdWatchBatch?
        do throws(EtcdError) {
            batch = try EtcdWatch.decode(line, endpoint: "http://e:2379", operation: "watch /f/*", resumingAt: 7)
        } catch {
            precondition(!error.message.isEmpty, "an error without a message for \(String(decoding: line, as: UTF8.self).debugDescription)")
            continue
        }
        guard let batch else { continue }
        let again: EtcdWatchBatch?
        do throws(EtcdError) {
            again = try EtcdWatch.decode(canonical(batch), endpoint: "http://e:2379", operation: "watch /f/*", resumingAt: 7)
        } catch {
            preconditionFailure("a batch's canonical encoding was refused: \(error)")
        }
        precondition(again == batch, "a batch did not read back: \(batch) vs \(String(describing: again))")
    }
    return 0
}

/// The gateway's encoding of `batch` (what etcd would have sent for it).
private func canonical(_ batch: EtcdWatchBatch) -> [UInt8] {
    let events: [[String: Any]] = batch.events.map { event in
        switch event {
        case .put(let kv):
            return ["type": "PUT", "kv": ["key": EtcdGateway.base64(kv.key), "value": EtcdGateway.base64(kv.value),
                                          "create_revision": String(kv.createRevision), "mod_revision": String(kv.modRevision),
                                          "version": String(kv.version), "lease": String(kv.lease)] as [String: Any]]
        case .delete(let key, let revision):
            return ["type": "DELETE", "kv": ["key": EtcdGateway.base64(key), "mod_revision": String(revision)]]
        }
    }
    let message: [String: Any] = ["result": ["header": ["revision": String(batch.revision)], "events": events] as [String: Any]]
    return Array((try? JSONSerialization.data(withJSONObject: message)) ?? Data())
}
