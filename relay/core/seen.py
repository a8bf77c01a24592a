"""The fast path for posts already seen: a bounded map of uri → version, checked before parsing.

A busy hashtag watched on twenty instances arrives up to twenty times, and a stream reconnect or
a poll repeats what was already delivered. Deciding such a duplicate needs no `Post`, no
screening and no dedupe query: only "is this uri known, at this version?" (a version is the
`edited_at` and the progress of the post's quote, as `relay.core.dedupe` orders them). The pipeline thread
fills the map after each commit; source threads read it (a plain dict: single reads and writes
are atomic under the GIL) and turn a known post into a light `Sighting` instead of a `Post`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, cast

from relay.core.ids import version_key
from relay.core.post import quote_progress

RETRACTED: Final = "retracted"
_MISSING: Final = object()


class SeenCache:
    """Which uris the store knows, at which version, for the most recent `size` posts."""

    def __init__(self, size: int = 100_000) -> None:
        self._size = size
        self._versions: dict[str, tuple[tuple[int, float, str], int] | str] = {}

    def __len__(self) -> int:
        return len(self._versions)

    def remember(self, uri: str, edited_at: datetime | None, quote_state: str | None = None) -> None:
        """The store has decided on `uri` at this version (call after the commit)."""
        self._put(uri, (version_key(edited_at), quote_progress(quote_state)))

    def retract(self, uri: str) -> None:
        """`uri` was deleted: every later copy is a duplicate."""
        self._put(uri, RETRACTED)

    def forget(self, uri: str) -> None:
        self._versions.pop(uri, None)

    def known(self, status: Mapping[str, Any]) -> str | None:
        """The uri of a status (JSON) whose version the store already has, else None."""
        original = status.get("reblog") or status
        if not isinstance(original, Mapping):
            return None
        uri = original.get("uri")
        if not isinstance(uri, str):
            return None
        stored = self._versions.get(uri, _MISSING)
        if stored is _MISSING:
            return None
        if isinstance(stored, str):  # RETRACTED
            return uri
        # A stored version is an edit time or none, so an `edited_at` that is not a time never
        # matches: such a post takes the full path. A quote further on than the stored one does.
        edit, progress = cast("tuple[tuple[int, float, str], int]", stored)
        if edit == version_key(original.get("edited_at")) and _progress(original) <= progress:
            return uri
        return None

    def _put(self, uri: str, value: tuple[tuple[int, float, str], int] | str) -> None:
        versions = self._versions
        versions.pop(uri, None)  # re-insert at the end: the oldest entries leave first
        versions[uri] = value
        while len(versions) > self._size:
            del versions[next(iter(versions))]


def _progress(status: Mapping[str, Any]) -> int:
    """`quote_progress` of a status's quote as the JSON says it (a malformed quote: further on, so
    that the full path reads the status and says what is wrong with it)."""
    quote = status.get("quote")
    if quote is None:
        return 0
    state = quote.get("state", "accepted") if isinstance(quote, Mapping) else None
    return quote_progress(state) if isinstance(state, str) else 3
