import DiscoCore
import DiscoLifecycle
import DiscoTestKit
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Testing

// MARK: - ServiceGroup

@Suite struct ServiceGroupTests {
    /// Three services run until asked; a graceful shutdown stops them last-started first, each
    /// only after the one after it has returned.
    @Test func gracefulShutdownStopsServicesInReverseOrder() async throws {
        let journal = Journal()
        let group = ServiceGroup(services: ["a", "b", "c"].map { PoliteService(name: $0, journal: journal) }, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitUntil("every service to start") { ["a", "b", "c"].allSatisfy { journal.contains("start \($0)") } }
            group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(journal.all.filter { $0.hasPrefix("stop") } == ["stop c", "stop b", "stop a"])
        #expect(!journal.all.contains { $0.hasPrefix("cancelled") })
    }

    /// A failing service stops the group: the others shut down gracefully in reverse order, and
    /// `run()` throws the service's own error.
    @Test func aFailingServiceStopsTheGroupWithItsError() async throws {
        let journal = Journal()
        let (go, trigger) = AsyncStream.makeStream(of: Void.self)
        let services: [any Service] = [PoliteService(name: "a", journal: journal),
                                       FailingService(name: "b", journal: journal, go: go),
                                       PoliteService(name: "c", journal: journal)]
        let group = ServiceGroup(services: services, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                await #expect(throws: FailingService.Failure(reason: "b broke")) { try await group.run() }
            }
            try await waitUntil("every service to start") { ["a", "b", "c"].allSatisfy { journal.contains("start \($0)") } }
            trigger.yield()
            try await tasks.waitForAll()
        }
        #expect(journal.all.filter { !$0.hasPrefix("start") } == ["fail b", "stop c", "stop a"])
    }

    /// A service that ignores the graceful shutdown is cancelled once the deadline passes, and
    /// `run()` says the shutdown timed out, naming it.
    @Test func anOverrunningShutdownEscalatesToCancellation() async throws {
        let journal = Journal()
        var configuration = ServiceGroupConfiguration(services: [PoliteService(name: "a", journal: journal),
                                                                 StubbornService(name: "b", journal: journal)], logger: quietLogger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(50)
        let group = ServiceGroup(configuration: configuration)
        group.triggerGracefulShutdown()
        do {
            try await group.run()
            Issue.record("run() returned normally")
        } catch let error as ServiceGroupError {
            #expect(error.code == .gracefulShutdownTimedOut)
            #expect(error.message.contains("still running: PoliteService, StubbornService"), "\(error)")
        }
        // b was asked and cancelled before a was ever asked; a, still running then, was cancelled with it.
        #expect(journal.contains("asked b"))
        #expect(journal.contains("cancelled b"))
        #expect(journal.contains("cancelled a"))
        #expect(!journal.contains("stop a"))
    }

    /// A shutdown requested before `run()` starts takes effect at once; a group runs only once.
    @Test func aGroupRunsOnceAndHonoursAnEarlyRequest() async throws {
        let journal = Journal()
        let group = ServiceGroup(services: [PoliteService(name: "a", journal: journal)], logger: quietLogger)
        group.triggerGracefulShutdown()
        try await group.run()
        #expect(journal.all == ["start a", "stop a"])
        await #expect(throws: ServiceGroupError.self) { try await group.run() }
    }

    /// A service that ends on its own with `.ignore` leaves the others running; with the default
    /// it stops the group gracefully.
    @Test func terminationBehaviours() async throws {
        let journal = Journal()
        let oneOff = ServiceFunction { journal.record("one-off done") }
        var configuration = ServiceGroupConfiguration(services: [.init(PoliteService(name: "a", journal: journal)),
                                                                 .init(oneOff, name: "one-off", successTerminationBehavior: .ignore)],
                                                      logger: quietLogger)
        let group = ServiceGroup(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitUntil("the one-off to finish") { journal.contains("one-off done") }
            #expect(!journal.contains("stop a"))
            group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(journal.contains("stop a"))

        configuration.services[1] = .init(ServiceFunction { journal.record("finisher done") }, name: "finisher")
        try await ServiceGroup(configuration: configuration).run()
        #expect(journal.all.suffix(3) == ["start a", "finisher done", "stop a"] || journal.all.suffix(3) == ["finisher done", "start a", "stop a"])
    }

    /// A group inside a group shuts down when the outer one asks.
    @Test func aNestedGroupFollowsTheOuterShutdown() async throws {
        let journal = Journal()
        let inner = ServiceGroup(services: [PoliteService(name: "inner-1", journal: journal),
                                            PoliteService(name: "inner-2", journal: journal)], logger: quietLogger)
        let outer = ServiceGroup(services: [PoliteService(name: "outer", journal: journal), inner], logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await outer.run() }
            try await waitUntil("every service to start") {
                ["outer", "inner-1", "inner-2"].allSatisfy { journal.contains("start \($0)") }
            }
            outer.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(journal.all.filter { $0.hasPrefix("stop") } == ["stop inner-2", "stop inner-1", "stop outer"])
    }

    /// The first signal shuts down gracefully; the same signal again cancels what still runs.
    @Test func aSecondSignalCancels() async throws {
        let journal = Journal()
        var configuration = ServiceGroupConfiguration(services: [PoliteService(name: "a", journal: journal),
                                                                 StubbornService(name: "b", journal: journal)], logger: quietLogger)
        configuration.gracefulShutdownSignals = [.sigusr2]
        let group = ServiceGroup(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitUntil("both services to start") { journal.contains("start a") && journal.contains("start b") }
            kill(getpid(), SIGUSR2)
            // b ignores the graceful request; a is not asked before b stops.
            try await waitUntil("the first signal to reach b") { journal.contains("asked b") }
            #expect(!journal.contains("stop a"))
            kill(getpid(), SIGUSR2)
            try await tasks.waitForAll()
        }
        #expect(journal.contains("cancelled b"))
        #expect(journal.contains("cancelled a"))
    }
}

// MARK: - What services call

@Suite struct GracefulShutdownTests {
    @Test func cancelOnGracefulShutdownEndsALoopWithoutAnError() async throws {
        let journal = Journal()
        let loop = ServiceFunction {
            let result: Int? = try await cancelOnGracefulShutdown {
                journal.record("looping")
                let never = AsyncStream<Int> { _ in }
                for await _ in never {}
                throw CancellationError()
            }
            journal.record("loop returned \(result.map(String.init) ?? "nil")")
        }
        let group = ServiceGroup(services: [loop], logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitUntil("the loop to run") { journal.contains("looping") }
            group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(journal.all == ["looping", "loop returned nil"])
        let value = try await cancelOnGracefulShutdown { 42 }
        #expect(value == 42)
    }

    @Test func handlersRunOnceAndOutsideAGroupNothingAsks() async throws {
        #expect(!isGracefulShutdownRequested)
        let journal = Journal()
        let service = ServiceFunction {
            try await withGracefulShutdownHandler {
                journal.record("running")
                try await gracefulShutdown()
                #expect(isGracefulShutdownRequested)
            } onGracefulShutdown: {
                journal.record("handler")
            }
        }
        let group = ServiceGroup(services: [service], logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitUntil("the service to run") { journal.contains("running") }
            group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(journal.all == ["running", "handler"])
        // Outside a group only cancellation ends the wait.
        let waiting = Task { try await gracefulShutdown() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }
}
