"""The hand-off from the main thread to the fetcher threads: where each hashtag feed was taken up to.

The wiring (`relay.runtime.relay`) owns one `Cursors`, keyed by (source, hashtag). Only the main
thread writes it, and only what is committed: the stored cursors at start, then each move the
pipeline reports (`relay.runtime.events.CursorMoved`) after its batch's commit. The fetcher
threads (`relay.sources.poll.TimelineFetcher`) read it before each fetch. A lock makes every read
and write whole; a reader may see a cursor one move behind, which only makes a catch-up fetch a
few statuses that the seen-cache then drops. (The mentions cursor is handed to
`relay.moderation.mentions.MentionFetcher.handled` the same way.)
"""

from __future__ import annotations

import threading


class Cursors:
    """The newest status id taken from each (source, hashtag) feed; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, str], str] = {}

    def get(self, source: str, hashtag: str) -> str | None:
        """The cursor of a feed (None: nothing taken yet; the very first start)."""
        with self._lock:
            return self._ids.get((source, hashtag))

    def move(self, source: str, hashtag: str, *, to: str) -> None:
        """Set the cursor of a feed (main thread, after the commit that stored it)."""
        with self._lock:
            self._ids[(source, hashtag)] = to
