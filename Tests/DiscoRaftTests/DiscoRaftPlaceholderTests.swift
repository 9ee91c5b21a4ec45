import Testing
@testable import DiscoRaft
