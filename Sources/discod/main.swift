import DiscoCore

print("discod: not yet implemented")
