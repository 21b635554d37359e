"""``make bench``: the benchmark (development only, not deployed)."""
