import DiscoCore

// MARK: - Files named by flags

extension ProcessEnvironment {
    /// Reads the whole file a flag names (`-flag PATH`); a missing or unreadable file is a
    /// ``FlagError`` that names the flag and the path (exit 2), e.g.
    /// `-proxy-hop-key "/etc/key": no such file`.
    public static func readFlagFile(_ path: String, flag: String, limit: Int) throws(FlagError) -> [UInt8] {
        let contents: [UInt8]?
        do throws(FileError) {
            contents = try readFileIfExists(path, limit: limit)
        } catch {
            throw FlagError(code: .invalidValue, flag: flag, message: "-\(flag) \(path.debugDescription): \(error)")
        }
        guard let contents else {
            throw FlagError(code: .invalidValue, flag: flag, message: "-\(flag) \(path.debugDescription): no such file")
        }
        return contents
    }
}
