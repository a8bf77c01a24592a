"""PURE building blocks: the values that travel through the relay and the decisions made on them.

Nothing here does I/O, reads a clock, starts a thread or imports a network or database library
(`tests/test_layers.py` checks it). Every decision that matters (screening, dedupe, the review and
journal lifecycle) is a function of plain data, unit-tested without SQLite or a server.
"""
