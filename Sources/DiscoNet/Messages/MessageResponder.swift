// MARK: - Request/response message servers

/// How a request message arrived.
public enum MessageTransport: Sendable, Hashable {
    /// One UDP datagram (``UDPResponder``).
    case datagram
    /// One length-prefixed message on a TCP connection (``TCPMessageServer``).
    case stream
}

/// Answers request messages one at a time, synchronously, on the event loop thread of the server
/// it is given to: no suspension, no blocking, and (for speed) ideally no allocation. DNS is the
/// protocol in mind: a query in, a response out.
///
/// Servers call it only from their loop's thread, never concurrently; one responder given to
/// servers on different loops would be called from each of them.
public protocol MessageResponder: AnyObject, Sendable {
    /// Writes the response to `request` into `response` and returns its length in bytes.
    /// Returning 0 sends nothing (and a stream connection is closed once the responses before
    /// it are sent).
    func respond(to request: UnsafeRawBufferPointer, over transport: MessageTransport,
                 into response: UnsafeMutableRawBufferPointer) -> Int
}
