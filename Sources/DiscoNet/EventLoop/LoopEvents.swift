import CDiscoEpoll

// MARK: - epoll interest masks

/// The epoll interest sets DiscoNet uses (level-triggered, except for TCP transports; see
/// ``EventLoop`` and ``TCPTransport``).
enum LoopEvents {
    static let readable = EPOLLIN.rawValue
    static let writable = EPOLLOUT.rawValue
    static let readWrite = EPOLLIN.rawValue | EPOLLOUT.rawValue
    static let error = EPOLLERR.rawValue | EPOLLHUP.rawValue
    /// The peer finished sending (its FIN arrived): the end of the stream stays readable.
    static let peerFinished = EPOLLRDHUP.rawValue
    /// Both directions and the peer's FIN, edge-triggered: a ``TCPTransport``'s one registration.
    static let edgeTriggeredReadWrite = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
}
