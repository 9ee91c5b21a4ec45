import Foundation

// MARK: - Session endpoints

extension ConsulKVModel {
    /// Consul reaps a session at this multiple of its TTL after the last renewal
    /// ("sessions may not be reaped for up to 2×TTL").
    static let ttlMultiplier = 2

    mutating func session(path: String, _ request: Request, now: Duration) -> Response {
        let parts = path.split(separator: "/", maxSplits: 1).map(String.init)
        let verb = parts.first ?? ""
        let id = parts.count > 1 ? parts[1] : ""
        switch (request.method, verb) {
        case ("PUT", "create"):
            return createSession(request, now: now)
        case ("PUT", "renew"):
            guard var session = sessions[id] else { return text(404, "Session id '\(id)' not found") }
            if let ttl = session.ttl { session.expiresAt = now + ttl * Self.ttlMultiplier }
            sessions[id] = session
            return json(200, [render(session)])
        case ("PUT", "destroy"):
            guard Self.isUUID(id) else { return text(400, "Invalid session ID \"\(id)\": must be a UUID") }
            invalidate(id, now: now)
            return json(200, true)
        case ("GET", "info"):
            return json(200, sessions[id].map { [render($0)] } ?? [])
        case ("GET", "list"):
            return json(200, sessions.values.sorted { $0.createIndex < $1.createIndex }.map(render))
        default:
            return text(405, "method \(request.method) not allowed for /v1/session/\(verb)")
        }
    }

    mutating func createSession(_ request: Request, now: Duration) -> Response {
        var body: [String: Any] = [:]
        if !request.body.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
                return text(400, "Request decode failed: body is not a JSON object")
            }
            body = object
        }
        let behavior = (body["Behavior"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "release"
        guard behavior == "release" || behavior == "delete" else {
            return text(400, "Invalid Behavior setting '\(behavior)'")
        }
        var ttl: Duration?
        let ttlText = body["TTL"] as? String ?? ""
        if !ttlText.isEmpty {
            guard let parsed = Self.parseDuration(ttlText) else {
                return text(400, "Request decode failed: time: invalid duration \"\(ttlText)\"")
            }
            if parsed != .zero {
                guard parsed >= .seconds(10), parsed <= .seconds(86400) else {
                    return text(400, "Invalid Session TTL '\(ttlText)', must be between [10s=24h0m0s]")
                }
                ttl = parsed
            }
        }
        var lockDelay = Duration.seconds(15)
        if let text = body["LockDelay"] as? String {
            guard let parsed = Self.parseDuration(text) else {
                return self.text(400, "Request decode failed: time: invalid duration \"\(text)\"")
            }
            lockDelay = parsed
        } else if let number = body["LockDelay"] as? NSNumber {
            // Consul treats small numbers as seconds and large ones as nanoseconds.
            let value = number.int64Value
            lockDelay = value < 1000 ? .seconds(value) : .nanoseconds(value)
        }
        guard lockDelay <= .seconds(60) else { return text(400, "Invalid LockDelay: must be at most 60s") }
        let id = makeUUID()
        let index = bump()
        sessions[id] = Session(id: id, name: body["Name"] as? String ?? "", ttl: ttl, ttlText: ttlText, behavior: behavior,
                               lockDelay: lockDelay, createIndex: index,
                               expiresAt: ttl.map { now + $0 * Self.ttlMultiplier })
        return json(200, ["ID": id])
    }

    func render(_ session: Session) -> [String: Any] {
        ["ID": session.id, "Name": session.name, "Node": "consul-kv-double", "Behavior": session.behavior,
         "TTL": session.ttlText, "LockDelay": session.lockDelay.components.seconds * 1_000_000_000,
         "NodeChecks": ["serfHealth"], "ServiceChecks": NSNull(),
         "CreateIndex": session.createIndex, "ModifyIndex": session.createIndex]
    }

    /// Ends a session: its locks are released (or its keys deleted, for `Behavior=delete`) and
    /// those keys may not be re-acquired until the session's lock-delay has passed.
    mutating func invalidate(_ id: String, now: Duration) {
        guard let session = sessions.removeValue(forKey: id) else { return }
        let held = entries.filter { $0.value.session == id }.map(\.key)
        guard !held.isEmpty else {
            _ = bump()
            return
        }
        let index = bump()
        for key in held {
            if session.lockDelay > .zero { lockDelays[key] = now + session.lockDelay }
            if session.behavior == "delete" {
                entries[key] = nil
            } else {
                entries[key]?.session = nil
                entries[key]?.modifyIndex = index
            }
        }
        kvTableIndex = index
    }

    /// Invalidates every session whose TTL has run out.
    mutating func expireSessions(now: Duration) {
        let expired = sessions.values.filter { ($0.expiresAt ?? .seconds(Int64.max)) <= now }.map(\.id)
        for id in expired.sorted() { invalidate(id, now: now) }
    }

    mutating func makeUUID() -> String {
        let hex = Array("0123456789abcdef")
        let groups = [8, 4, 4, 4, 12]
        return groups.map { length in
            String((0..<length).map { _ in hex[Int(truncatingIfNeeded: random.next() & UInt64(15))] })
        }.joined(separator: "-")
    }

    static func isUUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }
}
