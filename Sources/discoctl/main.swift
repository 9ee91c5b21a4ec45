import DiscoCore

print("discoctl: not yet implemented")
