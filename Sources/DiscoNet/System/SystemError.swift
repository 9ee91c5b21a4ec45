// MARK: - System errors

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import CDiscoEpoll

/// A failed system call: which function failed and the `errno` it reported.
///
/// Every syscall in DiscoNet goes through ``retryingEINTR(_:_:)`` or one of its siblings, so a
/// failure always names the call that produced it.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The system function that failed, e.g. `"connect"`.
    public let function: String
    /// The `errno` value the call reported.
    public let errno: Int32

    public init(function: String, errno: Int32) {
        self.function = function
        self.errno = errno
    }

    public var description: String {
        "\(function) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

// MARK: - Syscall wrappers

/// Runs a syscall, retrying on `EINTR`, and throws ``SystemError`` for any other failure.
///
/// `errno` is read immediately after the call returns, before anything else can touch it.
@inline(never)
func retryingEINTR<T: FixedWidthInteger>(_ function: String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError(function: function, errno: code)
    }
}

/// Like ``retryingEINTR(_:_:)`` for non-blocking descriptors: returns `nil` on
/// `EAGAIN`/`EWOULDBLOCK` instead of throwing.
@inline(__always)  // at each call site, so the comparison with -1 is the concrete type's own
func nonBlocking<T: FixedWidthInteger>(_ function: String, _ body: () -> T) throws(SystemError) -> T? {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK { return nil }
        throw SystemError(function: function, errno: code)
    }
}

/// Closes a descriptor. `close` is never retried on `EINTR`: on Linux the descriptor is released
/// even when the call is interrupted, and retrying could close a descriptor reused by another thread.
func closeDescriptor(_ fd: Int32) {
    _ = Glibc.close(fd)
}

// MARK: - Process-wide setup

/// Ignores `SIGPIPE` for the whole process, once. Linux has no per-socket `SO_NOSIGPIPE`; we also
/// pass `MSG_NOSIGNAL` on every `send`, so this only guards writes made through other paths.
let ignoreSIGPIPEOnce: Void = {
    _ = signal(SIGPIPE, SIG_IGN)
}()
