// MARK: - One server connection: answering inline

extension HTTPServerConnection {
    /// Answers exchange `id` on the loop, inside the parse that read its head: the responder is an
    /// ``HTTPResponder/immediate(upTo:_:)`` one and the request has no body, so the response can
    /// be written now, with no handler-task resume or task switch. Pipelined requests stay in
    /// order: this runs only when no other exchange is in flight, and the parse loop reads the
    /// next head only after this one's response is queued. A streamed body or a hand-off is
    /// left to the connection's handler task. Returns false when the connection can take no
    /// more input (it is closing).
    func answerInline(_ request: HTTPRequest, exchange id: UInt64, with answer: HTTPImmediateHandler) -> Bool {
        let followUp = startResponse(answer(request), to: id, inline: true)
        switch followUp {
        case .finished:
            break
        case .stream, .handOff:
            queued.followUp = followUp
            wakeHandler()
        }
        return phase == .open
    }
}
