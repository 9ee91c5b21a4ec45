import CDiscoEpoll

// MARK: - epoll interest masks

/// The epoll interest sets DiscoNet uses (level-triggered; see ``EventLoop``).
enum LoopEvents {
    static let readable = EPOLLIN.rawValue
    static let writable = EPOLLOUT.rawValue
    static let readWrite = EPOLLIN.rawValue | EPOLLOUT.rawValue
    static let error = EPOLLERR.rawValue | EPOLLHUP.rawValue
}
