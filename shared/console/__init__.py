"""The operator console: sync health, failures and replays, in a browser."""
