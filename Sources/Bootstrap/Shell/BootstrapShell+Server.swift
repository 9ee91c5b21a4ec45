import DiscoCore
import DiscoNet

// MARK: - Answering the formation endpoints

extension BootstrapShell {
    /// The paths ``handle(_:)`` answers, with their methods.
    public static let routes: [String: String] = [
        "/notify": "POST", "/bootstrap/propose": "POST", "/bootstrap/abandon": "POST", "/bootstrap/status": "GET",
    ]

    /// Answers `POST /notify`, `POST /bootstrap/propose`, `POST /bootstrap/abandon` and
    /// `GET /bootstrap/status`; `nil` for any other path. Works before ``run()`` and after
    /// formation ended (a finished node answers notifies with `clustered`).
    public func handle(_ request: HTTPRequest) async -> HTTPResponse? {
        guard let method = Self.routes[request.path] else { return nil }
        guard request.method == method else {
            var response = Self.json(405, BootstrapWire.errorBody("\(request.path) takes \(method), not \(request.method)"))
            response.headers.add(name: "Allow", value: method)
            return response
        }
        switch request.path {
        case "/notify": return await answerNotify(request.body)
        case "/bootstrap/propose": return await answerProposal(request.body)
        case "/bootstrap/abandon": return await answerAbandon(request.body)
        default: return answerStatus(request.query)
        }
    }

    func answerNotify(_ body: [UInt8]) async -> HTTPResponse {
        let notify: NotifyRequest
        do {
            notify = try BootstrapWire.decodeNotifyRequest(body)
        } catch {
            return Self.badRequest(error)
        }
        let (reply, effects) = engine.handleNotify(notify, now: now())
        if case .mismatch = reply {} else {
            report(notify.sender)
            notify.known.forEach { report($0) }
        }
        await apply(effects)
        let (status, bytes) = BootstrapWire.encode(reply)
        return Self.json(status, bytes)
    }

    func answerProposal(_ body: [UInt8]) async -> HTTPResponse {
        let proposal: Proposal
        do {
            proposal = try BootstrapWire.decodeProposal(body)
        } catch {
            return Self.badRequest(error)
        }
        persistFailure = nil
        let (reply, effects) = engine.handleProposal(proposal, now: now())
        if reply == .accepted { proposal.voters.forEach { report($0) } }
        // The promise is on disk before the acceptance leaves (the effects begin with it).
        await apply(effects)
        if reply == .accepted, let persistFailure {
            return Self.json(500, BootstrapWire.errorBody("could not record the promise durably: \(persistFailure)"))
        }
        let (status, bytes) = BootstrapWire.encode(reply)
        return Self.json(status, bytes)
    }

    func answerAbandon(_ body: [UInt8]) async -> HTTPResponse {
        let id: ProposalID
        do {
            id = try BootstrapWire.decodeAbandon(body)
        } catch {
            return Self.badRequest(error)
        }
        await apply(engine.handleAbandon(id, now: now()))
        return Self.json(200, Array("{}".utf8))
    }

    func answerStatus(_ query: String?) -> HTTPResponse {
        do {
            let id = try BootstrapWire.decodeStatusQuery(query)
            return Self.json(200, BootstrapWire.encode(engine.status(of: id)))
        } catch {
            return Self.badRequest(error)
        }
    }

    static func badRequest(_ error: BootstrapWireError) -> HTTPResponse {
        json(400, BootstrapWire.errorBody(error.message))
    }

    static func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], bytes: body)
    }
}
