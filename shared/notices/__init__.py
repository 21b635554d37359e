"""Failure notices: a change refused for good, said where the person made it."""
