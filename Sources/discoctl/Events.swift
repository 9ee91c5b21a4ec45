import DiscoCore
import DiscoSystem
@preconcurrency import Glibc

// MARK: - events

/// Flags of `discoctl events`.
struct EventsFlags: Sendable {
    let since: Flag<UInt>
    let limit: Flag<UInt>
    let follow: Flag<Bool>
    let wait: Flag<Duration>
    let role: Flag<String>
    let consumer: Flag<String>
    let output: OutputFlags

    init(_ set: inout FlagSet) {
        since = set.uint("since", usage: "Print the events after this seq (0: from the oldest the cluster still keeps)", typeName: "seq")
        limit = set.uint("limit", usage: "Print at most this many events (0: all there are)", typeName: "count")
        follow = set.bool("follow", usage: "Keep waiting for new events and print them as they come, until interrupted")
        wait = set.duration("wait", default: .seconds(30), usage: "With -follow, how long each request waits for a new event (at most 60s)")
        role = set.string("role", usage: "Only the events for this role (whose \"roles\" name it), e.g. dns", typeName: "role")
        consumer = set.string("consumer", usage: "With -role: start after this consumer's cursor for the role and move it past each\n"
                              + "page printed (kept in the cluster, so a restarted consumer resumes; at least once)", typeName: "name")
        output = OutputFlags(&set, json: "one JSON array of {\"seq\",\"index\",\"time_ms\",\"data\"} objects",
                             jsonLines: "one such object per line; the form -follow prints as JSON")
    }
}

/// The largest page the node hands out.
private let pageLimit: UInt = 1000

/// `discoctl events`: pages through `GET /events` from `-since`; with `-follow`, long-polls for
/// new events until interrupted (or until `-limit` events were printed).
func runEvents(_ context: CommandContext, _ flags: EventsFlags) async -> Int32 {
    if let extra = context.flags.positionals.first {
        return usageError(context, "unexpected argument \(extra.debugDescription) (to append an event: discoctl events append '<json>')")
    }
    let wait = context.flags[flags.wait]
    guard wait > .zero, wait <= .seconds(60) else { return usageError(context, "-wait must be more than 0s and at most 60s") }
    let follow = context.flags[flags.follow]
    let limit = context.flags[flags.limit]
    let format = context.format
    if follow, format == .json {
        return usageError(context, "-follow prints events as they come, so not as one JSON document: use -format jsonl "
                          + "(one JSON object per line)")
    }
    let role = context.flags[flags.role]
    let consumer = context.flags[flags.consumer]
    // Given empty (a script's unset variable) is refused as any bad name, not taken as not given.
    if context.flags.isSet(flags.role), let problem = RoleNames.problem(with: role) { return usageError(context, "-role: \(problem)") }
    if context.flags.isSet(flags.consumer), let problem = EventConsumerNames.problem(with: consumer) {
        return usageError(context, "-consumer: \(problem)")
    }
    if !consumer.isEmpty {
        guard !role.isEmpty else { return usageError(context, "-consumer keeps a cursor per role: add -role, e.g. -role dns -consumer \(consumer)") }
        guard !context.flags.isSet(flags.since) else {
            return usageError(context, "-since and -consumer both say where to start: the consumer starts after its cursor; drop one")
        }
    }
    let api = NodeAPI(context)
    var since = UInt64(context.flags[flags.since])
    if !consumer.isEmpty {
        switch await api.getJSON("/events/cursor?role=\(role)&consumer=\(queryEscaped(consumer))", command: "events") {
        case .success(let (json, _)): since = json["seq"]?.numberValue?.uint64Value ?? 0
        case .failure(let exit): return exit.code
        }
    }
    let start = since  // where this run starts: -since, or the consumer's cursor
    var notedStart = false
    var printed: UInt = 0
    var collected: [JSONValue] = []  // -format json: printed as one array at the end
    while limit == 0 || printed < limit {
        let page = limit == 0 ? pageLimit : min(pageLimit, limit - printed)
        var path = "/events?since=\(since)&limit=\(page)" + (role.isEmpty ? "" : "&role=\(role)")
        var timeout = context.timeout
        if follow {
            path += "&wait=\(GoDuration.format(wait))"
            timeout += wait
        }
        let answer: NodeAnswer
        do {
            answer = try await api.send("GET", path, timeout: timeout)
        } catch {
            return fail("events", "\(error)").code
        }
        // A consumer's cursor behind the retention window: -since cannot move it, so continue at
        // the oldest retained event, as a role's consumer does, and say what was trimmed.
        if answer.status == 410, !consumer.isEmpty, let first = answer.json?["first_seq"]?.numberValue?.uint64Value, first > since + 1 {
            CommandLineTool.writeStandardError("discoctl events: events \(since + 1)...\(first - 1) were trimmed before \(consumer) "
                                               + "consumed them; continuing at \(first)\n")
            since = first - 1
            continue
        }
        guard answer.status == 200, let events = answer.json?["events"]?.arrayValue else {
            return fail("events", "the node at \(context.node.url) answered GET \(path) with \(answer.status): \(answer.errorMessage)").code
        }
        // A consumer without a cursor starts at the oldest retained event: say so when earlier ones
        // were trimmed (the leader deletes a cursor left behind the window for an hour, so this
        // is also how a consumer that was away that long comes back).
        if !consumer.isEmpty, start == 0, !notedStart, let first = answer.json?["first_seq"]?.numberValue?.uint64Value, first > 1 {
            CommandLineTool.writeStandardError("discoctl events: \(consumer) has no cursor for \(role) (a new consumer, or one whose "
                                               + "cursor was behind the retention window): starting at the oldest retained event "
                                               + "\(first); events 1...\(first - 1) were trimmed\n")
            notedStart = true
        }
        for event in events {
            switch format {
            case .json: collected.append(event)
            case .jsonLines: if let exit = emit(event.encoded(), consumer: consumer) { return exit }
            case .text: if let exit = emit(eventLine(event), consumer: consumer) { return exit }
            }
            if let seq = event["seq"]?.numberValue?.uint64Value { since = max(since, seq) }
            printed += 1
        }
        // -format json prints once at the end: acknowledge then, not what is not printed yet.
        if !consumer.isEmpty, !events.isEmpty, format != .json,
           let exit = await acknowledge(api, context, role: role, consumer: consumer, through: since) {
            return exit
        }
        // With -role, events up to next_since that are not for the role were skipped.
        if let scanned = answer.json?["next_since"]?.numberValue?.uint64Value, limit == 0 || printed < limit { since = max(since, scanned) }
        // Without -follow, stop once the log has nothing more after `since`.
        if !follow {
            let lastSeq = answer.json?["last_seq"]?.numberValue?.uint64Value ?? since
            if events.isEmpty || since >= lastSeq { break }
        }
    }
    if format == .json {
        if let exit = emit(JSONValue.array(collected).encoded(), consumer: consumer) { return exit }
        if !consumer.isEmpty, let last = collected.compactMap({ $0["seq"]?.numberValue?.uint64Value }).max(),
           let exit = await acknowledge(api, context, role: role, consumer: consumer, through: last) {
            return exit
        }
    } else if printed == 0, format == .text {
        CommandLineTool.writeStandardError("(no events after #\(start))\n")
    }
    return 0
}

/// Prints one line; nil when it was written, else the exit status (1): standard output that
/// cannot take it (a reader that is gone, a full disk) ends the run before anything it did not
/// print is acknowledged.
private func emit(_ line: String, consumer: String) -> Int32? {
    guard let error = CommandLineTool.writeStandardOutput(line + "\n") else { return nil }
    let cursor = consumer.isEmpty ? "" : "; \(consumer)'s cursor was not moved past what was not printed"
    return fail("events", "cannot write to standard output (\(String(cString: strerror(error))))\(cursor)").code
}

/// Moves `consumer`'s cursor for `role` to `seq` (`POST /events/ack`); nil when stored, else the
/// exit status. The cluster stores it through its leader: while there is none (an election), or
/// the leader it was sent on to cannot be reached, it is sent again until `-timeout` has passed
/// (the cursor only moves forward, so sending it twice is harmless).
private func acknowledge(_ api: NodeAPI, _ context: CommandContext, role: String, consumer: String, through seq: UInt64) async -> Int32? {
    let body = JSONValue.object(JSONObject([.init(key: "role", value: .string(role)), .init(key: "consumer", value: .string(consumer)),
                                            .init(key: "seq", value: .number(JSONNumber(seq)))]))
    let deadline = ContinuousClock.now + context.timeout
    while true {
        let problem: String
        do {
            let acked = try await api.send("POST", "/events/ack", json: body.encoded(), followRedirects: true)
            if acked.status == 200 { return nil }
            problem = "the node at \(context.node.url) did not store \(consumer)'s cursor at \(seq) (\(acked.status)): " + acked.errorMessage
            guard acked.status == 503 else { return fail("events", problem).code }
        } catch {
            problem = "\(error)"
        }
        guard ContinuousClock.now + ackRetryPause < deadline else { return fail("events", problem).code }
        try? await Task.sleep(for: ackRetryPause)
    }
}

/// How long to wait before sending an acknowledgement again (a leader election takes about a second).
private let ackRetryPause: Duration = .milliseconds(250)

/// `#SEQ TIME index=N DATA`.
func eventLine(_ event: JSONValue) -> String {
    let time = event["time_ms"]?.numberValue?.int64Value.map(utcTimestamp) ?? "-"
    return "#\(cell(event["seq"])) \(time) index=\(cell(event["index"])) \(event["data"]?.encoded() ?? "null")"
}

// MARK: - append

/// `discoctl events append '<json>'` (also `discoctl append`): `POST /events` with one JSON value.
func runAppend(_ context: CommandContext) async -> Int32 {
    let positionals = context.flags.positionals
    guard let text = positionals.first else {
        return usageError(context, #"missing the event: one JSON value, e.g. discoctl append '{"type":"deploy"}'"#)
    }
    guard positionals.count == 1 else {
        return usageError(context, "unexpected argument \(positionals[1].debugDescription); quote the event so it is one argument")
    }
    do {
        _ = try JSONValue.parse(text, numbers: .interoperable)
    } catch {
        if error.code == .numberOutOfRange { return usageError(context, "the event cannot be appended: \(error)") }
        return usageError(context, "the event is not valid JSON: \(error); pass one JSON value, e.g. '{\"type\":\"deploy\"}'")
    }
    let answer: NodeAnswer
    do {
        answer = try await NodeAPI(context).send("POST", "/events", json: text, followRedirects: true)
    } catch {
        return fail("append", "\(error)").code
    }
    guard answer.status == 200, let result = answer.json else {
        return fail("append", "the node at \(context.node.url) did not append the event (\(answer.status)): \(answer.errorMessage)").code
    }
    if context.format == .json {
        printLine(result.encoded())
    } else {
        printLine("appended event #\(cell(result["seq"])) at log index \(cell(result["index"]))")
    }
    return 0
}

// MARK: - Text helpers

/// `2025-01-02T03:04:05.678Z` for milliseconds since the Unix epoch (as the logs print time);
/// `-` for a value too large to be a time.
func utcTimestamp(_ millis: Int64) -> String {
    let (nanoseconds, overflow) = millis.multipliedReportingOverflow(by: 1_000_000)
    return overflow ? "-" : LogClock.rfc3339(nanoseconds: nanoseconds)
}
