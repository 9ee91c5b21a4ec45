import DiscoAuth
import DiscoCore
import DiscoSystem
@preconcurrency import Glibc

// MARK: - hash-password

/// Flags of `discoctl hash-password`.
struct HashPasswordFlags: Sendable {
    let scheme: Flag<String>
    let iterations: Flag<Int>
    let logN: Flag<Int>

    init(_ set: inout FlagSet) {
        scheme = set.string("scheme", default: "pbkdf2-sha256", usage: "Hash scheme: pbkdf2-sha256 or scrypt", typeName: "name")
        iterations = set.int("iterations", default: 600_000, usage: "PBKDF2 iterations (pbkdf2-sha256)", typeName: "n")
        logN = set.int("ln", default: 15, usage: "log2 of scrypt's N (scrypt, with r=8, p=1: 2^ln·1 KiB of memory per check)", typeName: "n")
    }
}

/// `discoctl hash-password`: reads a password from standard input (prompting without echo on a
/// terminal) and prints a salted hash for the `-auth` file's `"password"` field, made with the
/// system's libcrypto. The hash is checked by reading it back before it is printed.
func runHashPassword(_ context: CommandContext, _ flags: HashPasswordFlags) async -> Int32 {
    guard context.flags.positionals.isEmpty else {
        return usageError(context, "hash-password reads the password from standard input, not from arguments (they show in ps)")
    }
    let scheme: StoredPassword.Scheme
    switch context.flags[flags.scheme] {
    case "pbkdf2-sha256":
        // A cost flag of the other scheme would be ignored, and the hash made with a scheme not asked for.
        guard !context.flags.isSet(flags.logN) else { return usageError(context, "-ln is for -scheme scrypt; add -scheme scrypt or drop -ln") }
        let iterations = context.flags[flags.iterations]
        guard StoredPassword.pbkdf2Iterations.contains(iterations) else {
            return usageError(context, "-iterations must be \(StoredPassword.pbkdf2Iterations.lowerBound) to \(StoredPassword.pbkdf2Iterations.upperBound)")
        }
        scheme = .pbkdf2SHA256(iterations: iterations)
    case "scrypt":
        guard !context.flags.isSet(flags.iterations) else {
            return usageError(context, "-iterations is for -scheme pbkdf2-sha256; scrypt's cost is -ln")
        }
        let logN = context.flags[flags.logN]
        guard (10...18).contains(logN) else { return usageError(context, "-ln must be 10 to 18 (1 MiB to 256 MiB per check)") }
        scheme = .scrypt(logN: logN, blockSize: 8, parallelism: 1)
    case let other:
        return usageError(context, "-scheme \(other.debugDescription) is not pbkdf2-sha256 or scrypt")
    }
    guard let password = readPassword() else { return fail("hash-password", "no password on standard input").code }
    guard !password.isEmpty else { return fail("hash-password", "the password is empty").code }
    do {
        let stored = try StoredPassword.hash(password, scheme: scheme)
        guard try StoredPassword(parsing: stored.text).verify(password) else {
            return fail("hash-password", "the new hash does not verify; this is a bug").code
        }
        printLine(stored.text)
        return 0
    } catch {
        return fail("hash-password", "\(error)").code
    }
}

/// One password: prompted for without echo on a terminal, else all of standard input without
/// its final newline.
private func readPassword() -> String? {
    if isatty(0) == 1 {
        CommandLineTool.writeStandardError("Password: ")
        var saved = termios()
        tcgetattr(0, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSANOW, &silent)
        defer {
            tcsetattr(0, TCSANOW, &saved)
            CommandLineTool.writeStandardError("\n")
        }
        return readLine(strippingNewline: true)
    }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        guard count > 0 else { break }
        bytes += buffer[0..<count]
        if bytes.count > 1 << 16 { return nil }
    }
    if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
    if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
    return String(validating: bytes, as: UTF8.self)
}
