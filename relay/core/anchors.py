"""PURE anchor posts: the posts (such as the founder's first one) whose replies are boosted with or
without the hashtag (relay.toml's `[[anchors]]`).

An anchor is named by its URL. Its replies reach the anchor's own server (they mention its author),
so they are read there, from the anchor's context (`GET /api/v1/statuses/:id/context`,
`descendants`). What is decided here, on plain data:

- `status_id_candidate`: the anchor's status id on its own server, as its URL spells it (Mastodon
  `https://host/@user/109...` and `/users/user/statuses/109...`, GoToSocial `/@user/statuses/01H...`,
  Pleroma and Akkoma `/notice/AbC...`, Misskey and Sharkey `/notes/9x...`): the last path segment.
  The reader confirms it with `GET /api/v1/statuses/:id`, whose `uri` or `url` must name the
  anchor (`names_anchor`), before it trusts it;
- `select_replies`: which descendants are the anchor's replies: `direct` only those whose
  `in_reply_to_id` is the anchor, `thread` every descendant (a reply to a reply included);
- `gone`: which replies seen at the last read are missing now (the reader asks the server
  whether each one was deleted: a 404 is a delete, anything else is not).

The reason an anchor reply passes the hashtag and reply rules is `ANCHOR_RULE`, shown by `why`
and written in the audit log as "reply to anchor <url>".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

REPLY_SCOPES: Final = ("direct", "thread")
ANCHOR_RULE: Final = "anchor"  # the rule name of the reason an anchor reply carries


def anchor_detail(url: str) -> str:
    """The reason's text: what `why` and the audit log say of an anchor reply."""
    return f"reply to anchor {url}"


@dataclass(frozen=True, slots=True)
class Descendant:
    """One status of an anchor's context, as selecting replies needs it."""

    id: str
    in_reply_to_id: str | None


def status_id_candidate(url: str) -> str | None:
    """The status id that the anchor's URL names on its own server: its last path segment, if it
    looks like an id (letters and digits only) after at least one other segment (every server's
    post links have two or more: `/@user/ID`, `/notice/ID`). None for a URL without one (a
    profile, `/about`)."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if len(segments) >= 2 and segments[-1].isascii() and segments[-1].isalnum():
        return segments[-1]
    return None


def names_anchor(status: Mapping[str, object], url: str) -> bool:
    """Whether a status the anchor's server returned is the anchor (its `uri` or `url` is the
    anchor's URL, trailing slashes and the host's case aside)."""
    wanted = _comparable(url)
    return any(
        isinstance(status.get(k), str) and _comparable(str(status[k])) == wanted for k in ("uri", "url")
    )


def _comparable(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def select_replies(anchor_id: str, descendants: Sequence[Descendant], scope: str) -> list[Descendant]:
    """The anchor's replies among its context's `descendants`, in the order given.

    `direct`: those that answer the anchor itself; `thread`: every descendant (Mastodon's context
    holds only the anchor's thread, so each is a reply to the anchor or to one of its replies).
    """
    if scope not in REPLY_SCOPES:
        raise ValueError(f"unknown reply scope {scope!r}; known: {', '.join(REPLY_SCOPES)}")
    if scope == "thread":
        return list(descendants)
    return [d for d in descendants if d.in_reply_to_id == anchor_id]


def gone(before: Iterable[str], now: Iterable[str]) -> list[str]:
    """The reply ids read last time that this read lacks (each may be deleted: ask the server)."""
    current = set(now)
    return [i for i in before if i not in current]
