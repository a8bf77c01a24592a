"""PURE: what the pipeline and the booster report back to the wiring, instead of calling sideways.

`Pipeline.handle_batch` and `Booster.work` return these once the transaction that made them is
committed; `relay.runtime.relay` routes each to whoever needs it (moderation, the booster, the
fetchers' cursors). A rolled-back item reports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay.core.post import Post
from relay.core.verdict import Verdict


@dataclass(frozen=True, slots=True)
class Held:
    """A post was held for review as `short_id` (moderators are to be told)."""

    short_id: str
    post: Post
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class HomeId:
    """The home instance's own stream or feed showed `uri` as its status `local_id` (saves a search)."""

    uri: str
    local_id: str


@dataclass(frozen=True, slots=True)
class CursorMoved:
    """`source`'s feed of `hashtag` was taken up to `status_id` (the next catch-up starts there)."""

    source: str
    hashtag: str
    status_id: str


@dataclass(frozen=True, slots=True)
class Boosted:
    """The booster's reblog of `uri` is done and recorded."""

    uri: str


Event = Held | HomeId | CursorMoved | Boosted
