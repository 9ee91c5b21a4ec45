import Foundation

// MARK: - KV endpoints

extension ConsulKVModel {
    /// Largest value Consul accepts (512 KiB).
    static let maxValueSize = 512 * 1024

    /// The index a read of `key` reports: the entry's `ModifyIndex`, or the table index when the
    /// key is missing or the read covers a prefix.
    func readIndex(_ key: String, prefix: Bool) -> UInt64 {
        if !prefix, let entry = entries[key] { return entry.modifyIndex }
        return kvTableIndex
    }

    mutating func kvGet(_ key: String, _ request: Request) -> Outcome {
        let prefix = request.has("recurse") || request.has("keys")
        let current = readIndex(key, prefix: prefix)
        if let indexText = request.queryValue("index") {
            guard let wanted = UInt64(indexText) else {
                return .respond(text(400, "Invalid index: \(indexText.debugDescription) is not a number"))
            }
            var wait = Duration.seconds(300)
            if let waitText = request.queryValue("wait") {
                guard let parsed = Self.parseDuration(waitText) else {
                    return .respond(text(400, "Invalid wait time: \(waitText.debugDescription)"))
                }
                wait = min(parsed, .seconds(600))
            }
            if wanted > 0, current <= wanted, wait > .zero {
                return .wait(afterIndex: wanted, maxWait: wait)
            }
        }
        if request.has("keys") {
            let separator = request.queryValue("separator") ?? ""
            var names = Set<String>()
            for name in entries.keys where name.hasPrefix(key) {
                let rest = name.dropFirst(key.count)
                if !separator.isEmpty, let range = rest.range(of: separator) {
                    names.insert(key + rest[..<range.upperBound])
                } else {
                    names.insert(name)
                }
            }
            guard !names.isEmpty else { return .respond(Response(status: 404, headers: headers(index: current), body: [])) }
            return .respond(json(200, names.sorted(), index: current))
        }
        if request.has("recurse") {
            let matches = entries.filter { $0.key.hasPrefix(key) }.sorted { $0.key < $1.key }
            guard !matches.isEmpty else { return .respond(Response(status: 404, headers: headers(index: current), body: [])) }
            return .respond(json(200, matches.map { render($0.key, $0.value) }, index: current))
        }
        guard let entry = entries[key] else {
            return .respond(Response(status: 404, headers: headers(index: current), body: []))
        }
        if request.has("raw") {
            return .respond(Response(status: 200, headers: headers(index: current, contentType: "text/plain"), body: entry.value))
        }
        return .respond(json(200, [render(key, entry)], index: current))
    }

    mutating func kvPut(_ key: String, _ request: Request, now: Duration) -> Response {
        guard !key.isEmpty else { return text(400, "Missing key name") }
        guard request.body.count <= Self.maxValueSize else {
            return text(413, "Value exceeds \(Self.maxValueSize) byte limit")
        }
        guard let flags = Self.parseUInt(request.queryValue("flags")) else {
            return text(400, "Invalid flags: \(request.queryValue("flags") ?? "")")
        }
        let result: Result<Bool, KVError>
        if let session = request.queryValue("release") {
            result = unlock(key, session: session, value: request.body, flags: flags ?? 0)
        } else if let session = request.queryValue("acquire") {
            result = lock(key, session: session, value: request.body, flags: flags ?? 0, now: now)
        } else if let casText = request.queryValue("cas") {
            guard let cas = UInt64(casText) else { return text(400, "Invalid cas index: \(casText.debugDescription)") }
            result = .success(set(key, value: request.body, flags: flags ?? 0, ifIndex: cas))
        } else {
            result = .success(set(key, value: request.body, flags: flags ?? 0, ifIndex: nil))
        }
        switch result {
        case .success(let applied): return json(200, applied)
        case .failure(let error): return text(500, error.message)
        }
    }

    mutating func kvDelete(_ key: String, _ request: Request) -> Response {
        if request.has("recurse") {
            let doomed = entries.keys.filter { $0.hasPrefix(key) }
            if !doomed.isEmpty {
                let index = bump()
                for name in doomed { entries[name] = nil }
                kvTableIndex = index
            }
            return json(200, true)
        }
        if let casText = request.queryValue("cas") {
            guard let cas = UInt64(casText) else { return text(400, "Invalid cas index: \(casText.debugDescription)") }
            return json(200, delete(key, ifIndex: cas))
        }
        return json(200, delete(key, ifIndex: nil))
    }

    // MARK: Operations shared with transactions

    struct KVError: Error {
        let message: String
    }

    /// Sets a value, keeping any lock (locks are advisory). With `ifIndex`, a check-and-set:
    /// 0 means "only if absent", N means "only if `ModifyIndex == N`".
    mutating func set(_ key: String, value: [UInt8], flags: UInt64, ifIndex: UInt64?) -> Bool {
        let existing = entries[key]
        if let ifIndex {
            if ifIndex == 0, existing != nil { return false }
            if ifIndex != 0, existing?.modifyIndex != ifIndex { return false }
        }
        let index = bump()
        entries[key] = Entry(value: value, flags: flags, createIndex: existing?.createIndex ?? index,
                             modifyIndex: index, lockIndex: existing?.lockIndex ?? 0, session: existing?.session)
        kvTableIndex = index
        return true
    }

    mutating func lock(_ key: String, session: String, value: [UInt8], flags: UInt64, now: Duration) -> Result<Bool, KVError> {
        guard sessions[session] != nil else { return .failure(KVError(message: "invalid session \"\(session)\"")) }
        if let until = lockDelays[key], now < until { return .success(false) }
        let existing = entries[key]
        if let holder = existing?.session, holder != session { return .success(false) }
        let index = bump()
        let reacquired = existing?.session == session
        entries[key] = Entry(value: value, flags: flags, createIndex: existing?.createIndex ?? index, modifyIndex: index,
                             lockIndex: (existing?.lockIndex ?? 0) + (reacquired ? 0 : 1), session: session)
        kvTableIndex = index
        return .success(true)
    }

    mutating func unlock(_ key: String, session: String, value: [UInt8], flags: UInt64) -> Result<Bool, KVError> {
        guard sessions[session] != nil else { return .failure(KVError(message: "invalid session \"\(session)\"")) }
        guard var entry = entries[key], entry.session == session else { return .success(false) }
        let index = bump()
        entry.session = nil
        entry.value = value
        entry.flags = flags
        entry.modifyIndex = index
        entries[key] = entry
        kvTableIndex = index
        return .success(true)
    }

    /// Deletes a key. With `ifIndex`: 0 does nothing, N deletes only if `ModifyIndex == N`.
    mutating func delete(_ key: String, ifIndex: UInt64?) -> Bool {
        if let ifIndex {
            guard ifIndex != 0, let entry = entries[key], entry.modifyIndex == ifIndex else { return false }
        }
        guard entries[key] != nil else { return true }
        let index = bump()
        entries[key] = nil
        kvTableIndex = index
        return true
    }
}
