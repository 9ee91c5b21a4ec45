// disco-bench-node: load generator for scripts/bench formation|failover|append (work in progress).
print("disco-bench-node: not implemented yet")
