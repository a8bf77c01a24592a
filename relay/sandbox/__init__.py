"""A small Mastodon-compatible fediverse on loopback, for the relay's tests and ``relay demo``.

``Fediverse(["home", "remote"])`` starts one instance per name, each on its own port, that
federate with each other and speak enough of the Mastodon 4.6 REST and streaming API for
Mastodon.py and the relay. Faults (dropped or stalled streams, 5xx/429, latency, revoked tokens,
partitions) are switched from Python.
"""

from relay.sandbox.faults import RecordedRequest
from relay.sandbox.fediverse import Fediverse, Instance
from relay.sandbox.model import SeededAccount
from relay.sandbox.ratelimit import Budget, RateLimits

__all__ = ["Budget", "Fediverse", "Instance", "RateLimits", "RecordedRequest", "SeededAccount"]
