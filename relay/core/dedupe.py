"""PURE dedupe decision: what to do with a post that arrives, given what is stored about its uri.

One post is seen on many instances, by stream and by poll, possibly out of order. The key is the
ActivityPub `uri`; the version is Mastodon's `edited_at` (absent until the first edit), and within one
`edited_at` the progress of the post's quote (`relay.core.post.quote_progress`): a quote revoked by
the quoted author, or whose quoted post was deleted, comes as a `status.update` with the same
`edited_at` and a quote state further on, and must be screened again. The store
keeps one `Stored` per uri (`Store.stored(uri)`); the pipeline asks `decide()` on every arrival and
the store records the answer:

- nothing stored yet                                   -> SCREEN    (first sighting)
- the uri was deleted (retracted)                      -> RETRACTED (never boost it again)
- `edited_at` later than the stored version            -> RESCREEN  (a newer edit)
- the same `edited_at`, its quote further on           -> RESCREEN  (revoked, deleted, accepted)
- anything else (same version, or an older stale copy) -> DUPLICATE

No I/O, no clock: plain values in, an `Arrival` out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from relay.core.ids import version_key
from relay.core.post import quote_progress


class Arrival(enum.Enum):
    """What the pipeline does with an arriving post."""

    SCREEN = "screen"
    DUPLICATE = "duplicate"
    RESCREEN = "rescreen"
    RETRACTED = "retracted"


@dataclass(frozen=True, slots=True)
class Stored:
    """What is stored about one uri: the newest version seen and whether it was retracted."""

    edited_at: str | None
    retracted: bool = False
    quote_state: str | None = None  # the stored version's quote state (None: not a quote)


def decide(seen: Stored | None, edited_at: str | None, quote_state: str | None = None) -> Arrival:
    """Decide for a post arriving with version `edited_at` and quote state `quote_state`, given what
    is stored (`None`: nothing)."""
    if seen is None:
        return Arrival.SCREEN
    if seen.retracted:
        return Arrival.RETRACTED
    if is_newer(edited_at, seen.edited_at) or (
        version_key(edited_at) == version_key(seen.edited_at)
        and quote_progress(quote_state) > quote_progress(seen.quote_state)
    ):
        return Arrival.RESCREEN
    return Arrival.DUPLICATE


def is_newer(candidate: str | None, stored: str | None) -> bool:
    """True when version `candidate` is a later edit than `stored` (`None` is the unedited post).

    Versions are ISO-8601 timestamps as Mastodon sends them (`2024-05-01T10:00:00.000Z`); they are
    compared as instants, so offsets and precision do not matter. A value that does not parse sorts
    before every parseable one (and by text among its kind), so a malformed version never hides a
    real edit that arrives after it.
    """
    if candidate is None:
        return False
    if stored is None:
        return True
    return version_key(candidate) > version_key(stored)
