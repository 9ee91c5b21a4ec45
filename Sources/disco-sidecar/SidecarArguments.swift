import DiscoCore

// MARK: - One command line, two flag sets

/// Splits `disco-sidecar`'s command line into the node's arguments (every `discod` flag and the
/// data directory) and the proxy's, so each is parsed by its own flag set with Go's rules.
/// Flags are read up to the first argument that is not a flag (or `--`); a value that follows a
/// non-boolean flag stays with it.
enum SidecarArguments {
    static func split(_ arguments: [String], proxy: FlagSet, node: FlagSet) -> (node: [String], proxy: [String]) {
        var nodeArguments: [String] = []
        var proxyArguments: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.count >= 2, argument.hasPrefix("-"), argument != "--" else { break }
            var body = Substring(argument).dropFirst()
            if body.hasPrefix("-") { body = body.dropFirst() }
            let name = String(body.prefix { $0 != "=" })
            let inline = body.contains("=")
            let ownedByProxy = proxy.declares(name)
            let set = ownedByProxy ? proxy : node
            var taken = [argument]
            if !inline, set.declares(name), !set.isBoolean(name), index + 1 < arguments.count {
                taken.append(arguments[index + 1])
                index += 1
            }
            if ownedByProxy { proxyArguments += taken } else { nodeArguments += taken }
            index += 1
        }
        return (nodeArguments + arguments[index...], proxyArguments)
    }
}
