import DiscoSystem
import FoundationEssentials
import Testing
@testable import DiscoCore

@Suite struct DiscoConfigLoaderTests {
    /// A fixed environment and the real file system.
    let loader = DiscoConfigLoader(
        environment: { ["NAME": "disco.local", "PORT": "4001", "QUOTE": "\""][$0] },
        readFile: { path throws(ProcessEnvironment.FileError) in try ProcessEnvironment.readFileIfExists(path) })

    func configError(_ body: () throws(ConfigError) -> Void) -> ConfigError? {
        do {
            try body()
            return nil
        } catch {
            return error
        }
    }

    /// A file in a fresh temporary directory, removed by the caller.
    func temporaryFile(_ contents: String) throws -> (path: String, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appending(path: "disco-config-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appending(path: "disco.json")
        try Data(contents.utf8).write(to: file)
        return (file.path, directory)
    }

    @Test func literalJSON() throws {
        let config = try loader.load(#"{"name":"rqlite.local"}"#, mode: .dns)
        #expect(config == .dns(DNSConfig(name: "rqlite.local")))
    }

    @Test func fileIsReadWhenItExists() throws {
        let (path, directory) = try temporaryFile("{\n  \"name\": \"$NAME\",\n  \"port\": $PORT\n}\n")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try loader.load(path, mode: .dns)
        #expect(config == .dns(DNSConfig(name: "disco.local", port: 4001)))
    }

    @Test func fileErrorsNameTheFileAndPosition() throws {
        let (path, directory) = try temporaryFile("{\n  \"name\": \"x\",\n}\n")
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = try #require(configError { () throws(ConfigError) in _ = try loader.load(path, mode: .dns) })
        #expect(error.code == .syntax)
        #expect(error.message.contains("disco-config file \"\(path)\" is not valid JSON"))
        #expect(error.syntax?.line == 2)
        #expect(error.syntax?.column == 14)
    }

    @Test func invalidUTF8InFileIsLocated() throws {
        let loader = DiscoConfigLoader(environment: { _ in nil }, readFile: { _ in Array("{\n \"name\": \"".utf8) + [0xFF] + Array("\"}".utf8) })
        let error = try #require(configError { () throws(ConfigError) in _ = try loader.load("/any.json", mode: .dns) })
        #expect(error.syntax?.code == .invalidUTF8)
        #expect(error.syntax?.line == 2)
        #expect(error.message.contains("disco-config file \"/any.json\" is not valid JSON: invalid UTF-8"))
    }

    @Test func directoryIsUnreadable() throws {
        let (_, directory) = try temporaryFile("{}")
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = try #require(configError { () throws(ConfigError) in _ = try loader.load(directory.path, mode: .dns) })
        #expect(error.code == .unreadable)
        #expect(error.message.contains("Is a directory"))
    }

    @Test func missingFileThatLooksLikeAPath() throws {
        let error = try #require(configError { () throws(ConfigError) in _ = try loader.load("/etc/disco/nope.json", mode: .dns) })
        #expect(error.message.contains("no file named \"/etc/disco/nope.json\", and the value is not JSON either"))
    }

    @Test func expansionInLiteral() throws {
        let config = try loader.load(#"{"name":"${NAME}","port":$PORT}"#, mode: .dns)
        #expect(config == .dns(DNSConfig(name: "disco.local", port: 4001)))
    }

    @Test func expansionThatBreaksJSONSaysSo() throws {
        let error = try #require(configError { () throws(ConfigError) in _ = try loader.load(#"{"name":"a$QUOTE"}"#, mode: .dns) })
        #expect(error.message.contains("after $VAR expansion"))
    }

    @Test func anUnsetVariableIsNamedInsteadOfExpandingToNothing() throws {
        let error = try #require(configError { () throws(ConfigError) in
            _ = try loader.load(#"{"endpoints":["$ETCD_HOST:2379"]}"#, mode: .etcdKV)
        })
        #expect(error.code == .unsetVariable)
        #expect(error.message == "disco-config: $ETCD_HOST is not set")
        let (path, directory) = try temporaryFile(#"{"name":"${NAME}.${ZONE}"}"#)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inFile = try #require(configError { () throws(ConfigError) in _ = try loader.load(path, mode: .dns) })
        #expect(inFile.message == "disco-config file \(path.debugDescription): ${ZONE} is not set")
    }

    @Test func aVariableSetToEmptyIsFine() throws {
        let empty = DiscoConfigLoader(environment: { ["EMPTY": ""][$0] }, readFile: { _ in nil })
        #expect(try empty.load(#"{"name":"disco.local$EMPTY"}"#, mode: .dns) == .dns(DNSConfig(name: "disco.local")))
    }

    @Test func shellQuotesPassedThrough() throws {
        let error = try #require(configError { () throws(ConfigError) in _ = try loader.load(#"'{"name":"x"}'"#, mode: .dns) })
        #expect(error.code == .syntax)
        #expect(error.message.contains("at line 1, column 1"))
        #expect(error.message.contains("the shell did not remove them"))
    }

    @Test func noConfigGivesDefaultsOrAsksForName() throws {
        #expect(try DiscoConfig.decode(mode: .consulKV, json: nil) == .consulKV(ConsulKVConfig()))
        #expect(try DiscoConfig.decode(mode: .etcdKV, json: nil) == .etcdKV(EtcdKVConfig()))
        let error = try #require(configError { () throws(ConfigError) in _ = try DiscoConfig.decode(mode: .dns, json: nil) })
        #expect(error.code == .missingField)
        #expect(error.message.contains("disco mode dns needs -disco-config with at least a \"name\""))
    }
}
