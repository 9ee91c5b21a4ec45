import Testing
@testable import DiscoNet
