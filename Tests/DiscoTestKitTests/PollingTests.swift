import DiscoTestKit
import Testing

/// `waitUntil`: a failed attempt ends the wait, unless the poll retries errors.
@Suite struct PollingTests {
    struct Busy: Error, CustomStringConvertible {
        let attempt: Int
        var description: String { "busy (attempt \(attempt))" }
    }

    @Test func aFailedAttemptEndsAPollThatDoesNotRetryErrors() async {
        var attempts = 0
        await #expect(throws: Busy.self) {
            try await waitUntil("an answer", timeout: .seconds(30), pollEvery: .milliseconds(1)) {
                attempts += 1
                throw Busy(attempt: attempts)
            }
        }
        #expect(attempts == 1)
    }

    @Test func aFailedAttemptIsAMissWhenThePollRetriesErrors() async throws {
        var attempts = 0
        try await waitUntil("an answer", timeout: .seconds(30), pollEvery: .milliseconds(1), retryingErrors: true) {
            attempts += 1
            if attempts < 3 { throw Busy(attempt: attempts) }
            return true
        }
        #expect(attempts == 3)
    }

    @Test func aRetryingPollThatTimesOutNamesTheLastError() async {
        var attempts = 0
        await #expect { try await waitUntil("an answer", timeout: .milliseconds(200), pollEvery: .milliseconds(1), retryingErrors: true) {
            attempts += 1
            throw Busy(attempt: attempts)
        } } throws: { error in
            guard let timeout = error as? WaitTimeout else { return false }
            return timeout.lastError == "busy (attempt \(attempts))" && "\(timeout)".contains("waiting for an answer")
                && "\(timeout)".contains("busy (attempt \(attempts))")
        }
    }

    @Test func cancellationEndsARetryingPoll() async {
        let poll = Task {
            try await waitUntil("an answer", timeout: .seconds(60), pollEvery: .milliseconds(1), retryingErrors: true) {
                try await Task.sleep(for: .seconds(60))
                return true
            }
        }
        poll.cancel()
        await #expect(throws: CancellationError.self) { try await poll.value }
    }

    @Test func firstAnswerAsksAgainAfterNoAnswerAndAFailureAndReturnsTheAnswer() async throws {
        var attempts = 0
        let answer = try await firstAnswer("an answer", pollEvery: .milliseconds(1)) { () async throws -> String? in
            attempts += 1
            if attempts == 1 { return nil }
            if attempts == 2 { throw Busy(attempt: attempts) }
            return "answer \(attempts)"
        }
        #expect(answer == "answer 3")
    }

    @Test func firstAnswerWithoutAnyAnswerThrowsNamingTheLastError() async {
        await #expect { try await firstAnswer("an answer", timeout: .milliseconds(200), pollEvery: .milliseconds(1)) { () async throws -> Int? in
            throw Busy(attempt: 1)
        } } throws: { error in
            (error as? WaitTimeout)?.lastError == "busy (attempt 1)"
        }
    }
}
