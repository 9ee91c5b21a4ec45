/// `disco-sim raft --bench`: placeholder until the benchmark lands.
enum RaftBenchCommand {
    static func run(proposals: Int) -> Int32 {
        print("raft bench: not implemented yet")
        return 1
    }
}
