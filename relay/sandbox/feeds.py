"""Which feeds a status belongs in: tag timelines and public streams, a reader's home.

Shared by the REST timelines (``api_rest``) and the streams (``streaming``), so a post is in a
timeline exactly when it would have come on the matching stream. Call with the Fediverse lock held.
"""

from __future__ import annotations

from relay.sandbox.model import Account, Status
from relay.sandbox.state import InstanceState
from relay.sandbox.text import normalize_tag


def in_public_feeds(state: InstanceState, st: Status) -> bool:
    """Whether a status may be in tag timelines, hashtag and public streams: public, not a reblog,
    and on GoToSocial not a reply either."""
    if st.reblog is not None or st.visibility != "public":
        return False
    return not (state.flavour.top_level_public_only and st.in_reply_to is not None)


def has_tag(st: Status, tag: str) -> bool:
    return normalize_tag(tag) in {normalize_tag(t) for t in st.tags}


def in_home(state: InstanceState, viewer: Account, st: Status) -> bool:
    """Whether a status belongs in ``viewer``'s home timeline and user stream: their own, from
    someone they follow (direct only when addressed), or public with a hashtag they follow."""
    if st.account is viewer or state.follows_account(viewer, st.account):
        return st.visibility != "direct" or st.account is viewer or viewer in st.mentions
    if not in_public_feeds(state, st):
        return False
    return any(has_tag(st, tag) for tag in state.tags_followed_by(viewer))
