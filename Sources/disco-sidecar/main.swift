print("disco-sidecar")
