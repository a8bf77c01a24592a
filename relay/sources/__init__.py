"""Everything that brings posts in: streams (SSE), polling of tag timelines, RSS."""

from relay.core.backoff import Backoff
from relay.sources.stream import (
    MalformedEvent,
    StreamEvent,
    StreamReader,
    StreamStatus,
    Watchdog,
    parse_stream,
)

__all__ = [
    "Backoff",
    "MalformedEvent",
    "StreamEvent",
    "StreamReader",
    "StreamStatus",
    "Watchdog",
    "parse_stream",
]
