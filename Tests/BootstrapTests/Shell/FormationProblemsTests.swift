import DiscoCore
import Testing
@testable import Bootstrap

/// Which formation failures are warnings, and how often they are said.
@Suite struct FormationProblemsTests {
    let joinRefused = BootstrapClientError(.unauthorized, target: "127.0.0.1:4001", detail: "join refused (401): wrong password")
    let notifyRefused = BootstrapClientError(.unauthorized, target: "127.0.0.1:4001", detail: "notify refused (401): wrong password")

    @Test func onlyProblemsRetryingCannotCureAreConfigurationProblems() {
        #expect(BootstrapClientError.Code.unauthorized.isConfigurationProblem)
        #expect(BootstrapClientError.Code.insecureRedirect.isConfigurationProblem)
        #expect(BootstrapClientError.Code.refused.isConfigurationProblem)
        for transient in [BootstrapClientError.Code.unreachable, .timeout, .noLeader, .badAnswer, .tooManyRedirects] {
            #expect(!transient.isConfigurationProblem, "\(transient)")
        }
    }

    /// Once per target and kind (a join and a notify refused for the same credentials are one
    /// problem), again after the interval with the count held back; another target is said at once.
    @Test func eachProblemIsSaidOnceThenAtMostEveryInterval() throws {
        var problems = FormationProblems(repeatInterval: .seconds(30))
        let said = problems.record(joinRefused, now: .seconds(1))
        let first = try #require(said)
        #expect(first == "127.0.0.1:4001: join refused (401): wrong password; " + FormationProblems.fix(for: .unauthorized))
        #expect(first.contains("-join-as"))
        for second in 2...30 {
            #expect(problems.record(second.isMultiple(of: 2) ? joinRefused : notifyRefused, now: .seconds(second)) == nil)
        }
        #expect(problems.latest == joinRefused)
        let other = BootstrapClientError(.unauthorized, target: "127.0.0.1:4002", detail: "join refused (401): wrong password")
        #expect(problems.record(other, now: .seconds(30)) != nil)
        let repeated = problems.record(joinRefused, now: .seconds(31))
        let again = try #require(repeated)
        #expect(again.hasSuffix("(29 more times since it was last logged)"), "\(again)")
    }

    /// A cluster's refusal is its own reason: two different refusals from one node are both said.
    @Test func differentRefusalsFromOneNodeAreBothSaid() {
        var problems = FormationProblems()
        let name = BootstrapClientError(.refused, target: "127.0.0.1:4001", detail: "join refused: cluster \"a\" is not \"b\"")
        let epoch = BootstrapClientError(.refused, target: "127.0.0.1:4001", detail: "join refused: stale epoch")
        #expect(problems.record(name, now: .zero)?.contains("-cluster-name") == true)
        #expect(problems.record(epoch, now: .seconds(1)) != nil)
        #expect(problems.record(name, now: .seconds(2)) == nil)
    }
}
