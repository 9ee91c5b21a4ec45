import DiscoCore
@preconcurrency import Glibc

// MARK: - CommandLineTool

/// Output and exit conventions shared by Disco's executables.
public enum CommandLineTool {
    /// Writes `text` to standard error in one `write(2)`.
    public static func writeStandardError(_ text: String) { write(text, to: 2) }

    /// Writes `text` to standard output in one `write(2)`; nil when it was written, else the
    /// `errno` of the failed write (a reader that is gone: `EPIPE`, since SIGPIPE is ignored
    /// wherever sockets are used; a full disk).
    @discardableResult
    public static func writeStandardOutput(_ text: String) -> Int32? { write(text, to: 1) }

    @discardableResult
    static func write(_ text: String, to descriptor: Int32) -> Int32? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { buffer -> Int32? in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
    }

    /// Ends the process with `status`.
    public static func exit(_ status: Int32) -> Never { Glibc.exit(status) }

    /// Handles a command-line error: a help request prints usage to standard output and exits 0;
    /// anything else prints `<program>: <message>` and a pointer to `-h` to standard error and
    /// exits 2.
    public static func fail(_ error: FlagError, flagSet: FlagSet) -> Never {
        if error.code == .helpRequested {
            writeStandardOutput(flagSet.usage())
            exit(0)
        }
        writeStandardError("\(flagSet.programName): \(error.message)\n\(flagSet.usageHint)\n")
        exit(error.exitStatus)
    }
}
