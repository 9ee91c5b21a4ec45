import Testing
@testable import DiscoSWIM
