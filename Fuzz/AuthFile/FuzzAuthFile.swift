// libFuzzer entry point for the -auth file parser (AuthFile, StoredPassword, Base64).
//
// Any input must either be refused with an AuthFileError that names the file (never a crash), or
// parse to users that hold the parser's promises (non-empty names without ':', a password for
// everyone but "*", no duplicates), whose stored passwords re-read to the same value, and whose
// re-encoding as an auth file parses back to the same users.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAuthFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let file: AuthFile
    do {
        file = try AuthFile.parse(input, path: "fuzz.json")
    } catch {
        precondition(error.description.hasPrefix("auth file \"fuzz.json\""), "error does not name the file: \(error)")
        precondition(!error.fix.isEmpty, "error without a fix: \(error)")
        if let entry = error.entry { precondition(entry >= 1, "entry numbers start at 1: \(error)") }
        return 0
    }
    var names = Set<String>()
    for user in file.users {
        precondition(!user.username.isEmpty && !user.username.contains(":"), "bad user name \(user.username.debugDescription)")
        precondition(names.insert(user.username).inserted, "duplicate user \(user.username)")
        precondition((user.password == nil) == user.isAnyone, "password presence wrong for \(user.username)")
        if let password = user.password {
            let reread: StoredPassword
            do {
                reread = try StoredPassword(parsing: password.text)
            } catch {
                fatalError("stored password text does not re-read: \(password.text): \(error)")
            }
            precondition(reread == password, "stored password changed on re-reading: \(password.text)")
        }
    }
    let encoded = JSONValue.array(file.users.map { user in
        var object = JSONObject()
        object.append(key: "username", value: .string(user.username))
        if let password = user.password { object.append(key: "password", value: .string(password.text)) }
        object.append(key: "perms", value: .array(user.permissions.sorted().map { .string($0.rawValue) }))
        return .object(object)
    }).encodedBytes()
    let again: AuthFile
    do {
        again = try AuthFile.parse(encoded, path: "fuzz.json")
    } catch {
        fatalError("re-encoded auth file does not parse: \(error): \(String(decoding: encoded, as: UTF8.self))")
    }
    precondition(again == file, "re-encoded auth file differs")
    return 0
}
