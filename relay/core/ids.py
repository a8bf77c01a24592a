"""PURE orders of what servers send: one order of status ids, one order of post versions.

Status and notification ids are strings. Mastodon's are numbers of varying length ("999" is older
than "1000"); GoToSocial's ULIDs and Akkoma's flake ids are equal-length strings whose text order is
their age. `id_key` serves all three: the id without its leading zeros, by length, then by text.
For numeric strings that is their value (so no leading zero can reorder them); for strings of equal
length over an alphabet whose least character is "0" (digits, Crockford base 32, base 62) it is their
plain text order; and Pleroma's old numeric ids come before its newer, longer flake ids.

A post's version is its `edited_at`: None until the first edit, then an ISO 8601 time as the server
sends it (`2026-01-01T00:00:00.000Z`). `version_key` orders versions as instants (offsets and the
number of fraction digits do not matter; a time naming no zone is UTC): never edited first, then
text that is not a time (by text, so a malformed version never hides a real edit after it), then
the edit times in order. `parse_time` is the one reading of such a time, here and at the JSON edge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

NEVER_EDITED: Final = (0, 0.0, "")
"""The version key of a post that was never edited (shared: most posts have it)."""


def id_key(status_id: str) -> tuple[int, str]:
    """Sort key for status and notification ids: numeric ids by value, equal-length ids by text."""
    significant = status_id.lstrip("0")
    return (len(significant), significant)


def is_numeric_id(status_id: str) -> bool:
    """Whether `status_id` is a Mastodon numeric id: ASCII digits only. (`str.isdigit` alone also
    accepts other scripts' digits, "١٢٣" or "²", which no Mastodon id has.)"""
    return status_id.isdigit() and status_id.isascii()


def numeric_id_key(status_id: str) -> tuple[int, str]:
    """`id_key` of a Mastodon numeric id (white space around it ignored); ValueError for any other."""
    digits = status_id.strip()
    if not is_numeric_id(digits):
        raise ValueError(f"status id {status_id!r} is not a numeric string")
    return id_key(digits)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time (text or datetime) as an aware datetime, UTC when it names no zone; None
    for anything else (None, other types, text that is not such a time)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def version_key(edited_at: object) -> tuple[int, float, str]:
    """Sort key of a post version (`edited_at`): never edited < not a time (by text) < edit times.

    Equal keys are the same version: the same instant however it is written.
    """
    if edited_at is None:
        return NEVER_EDITED
    instant = parse_time(edited_at)
    if instant is None:
        return (1, 0.0, str(edited_at))
    return (2, instant.timestamp(), "")
