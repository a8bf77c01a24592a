"""PURE: when to tell the moderators that no post has arrived from any source for a while.

The relay counts every event a source delivers, with its time (`Store.source_stats`). When the
newest is older than `[moderation] silence_alert_minutes`, streams may be down or tokens revoked,
and the moderators get one DM; when events arrive again, one more. `watch()` decides, given the
silence the moderators were already told about (kept in the store between runs with
`to_setting` / `from_setting`, so that a restart during a silence does not tell them again).
The relay's start counts as the last event until a newer one: a relay that was stopped for a day
gets the full time to catch up before anyone is alerted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_NEVER = "never"


@dataclass(frozen=True, slots=True)
class Silent:
    """The moderators are (to be) told of the silence after `last_seen` (None: nothing ever came)."""

    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class Resumed:
    """Events arrive again after a silence the moderators were told about."""


def watch(
    last_seen: datetime | None,
    *,
    started: datetime,
    now: datetime,
    limit: timedelta,
    told: Silent | None,
) -> Silent | Resumed | None:
    """What to tell the moderators now: a new silence, its end, or nothing.

    `last_seen` is the newest event from any source (None: none ever), `started` when this run of
    the relay began, `told` the silence already announced (None: none is open). At most one
    `Silent` per silence: after it, only an event newer than the one it names ends it.
    """
    if told is not None:
        if last_seen is not None and (told.last_seen is None or last_seen > told.last_seen):
            return Resumed()
        return None
    quiet_since = started if last_seen is None else max(last_seen, started)
    if limit > timedelta(0) and now - quiet_since >= limit:
        return Silent(last_seen)
    return None


def message(step: Silent | Resumed, minutes: float) -> str:
    """The DM text for `step` (after the moderators' mentions)."""
    if isinstance(step, Resumed):
        return "Posts are arriving again: the relay sees new posts from its sources."
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"The relay has seen no post from any source for {minutes:g} {unit}: streams may be down;"
        " `relay status` on the server says more."
    )


def to_setting(step: Silent | Resumed) -> str:
    """What to store once `step` was told: the open silence, or "" when none is open."""
    if isinstance(step, Resumed):
        return ""
    return _NEVER if step.last_seen is None else step.last_seen.isoformat()


def from_setting(value: str | None) -> Silent | None:
    """The open silence the moderators were told about, from the stored `to_setting` text."""
    if not value:
        return None
    return Silent(None if value == _NEVER else datetime.fromisoformat(value))
