import DiscoCore

print("usage: disco-sim raft|swim [--seeds N] [--first-seed F] [--seed S]")
