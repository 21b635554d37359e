"""The sweep of every link: Sentry's current state read in batches and compared with the
links' memory, carried in the directions that are on (rules: pure; run: the I/O)."""
