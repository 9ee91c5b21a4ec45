/// `disco-sim raft`: runs Raft simulator seeds.
enum RaftSimCommand {
    static func run(_ arguments: [String]) -> Int32 {
        print("raft: simulator not yet implemented")
        return 1
    }
}
