"""The hand-off from the main thread to the fetcher threads: where each feed was taken up to.

The wiring (`relay.runtime.relay`) owns one `Cursors` for the hashtag feeds, keyed by (source,
hashtag), and one for the bot's mentions. Only the main thread writes, and only what is
committed: a feed's cursor when the pipeline reports `CursorMoved` after its batch's commit, the
mentions cursor after moderation has handled (and committed) a mention or a `MentionsSeen`. The
fetcher threads (`relay.sources.poll.TimelineFetcher`, `relay.moderation.mentions.MentionFetcher`)
read before each fetch. A lock makes every read and write whole; a reader may see a cursor one
move behind, which only makes a catch-up fetch a few statuses the seen-cache then drops.
"""

from __future__ import annotations

import threading


class Cursors:
    """The newest status (or notification) id taken, per key; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, ...], str] = {}

    def get(self, *key: str) -> str | None:
        """The cursor of `key` (None: nothing taken yet; the very first start)."""
        with self._lock:
            return self._ids.get(key)

    def move(self, *key: str, to: str) -> None:
        """Set the cursor of `key` (main thread, after the commit that stored it)."""
        with self._lock:
            self._ids[key] = to
