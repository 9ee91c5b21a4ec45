// DiscoRaft: Raft consensus as a pure core, its durable log, and the internode transport.
import DiscoCore
