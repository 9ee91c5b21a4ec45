/// `disco-sim swim`: runs SWIM simulator seeds.
enum SWIMSimCommand {
    static func run(_ arguments: [String]) -> Int32 {
        print("swim: simulator not yet implemented")
        return 1
    }
}
