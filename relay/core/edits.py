"""PURE: what an edit or a delete means for a post, given where the post stands.

The pipeline (`relay.runtime.pipeline`) reads a post's `Standing` from the store, asks `on_edit`
or `on_delete` what to do, and carries out the answer; nothing here touches the store or logs.

An edit is screened again first (the verdict is an input here):

| the post stands           | the new version passes | holds (on_edit = "hold") | otherwise        |
| ------------------------- | ---------------------- | ------------------------ | ---------------- |
| boosted                   | nothing                | HOLD (a moderator asks)  | UNBOOST          |
| boost intent still open   | nothing                | CANCEL                   | CANCEL           |
| accepted now, not queued  | BOOST                  |                          |                  |
|   or held/rejected/expired|                        |                          |                  |
| held for review now       |                        | HOLD (the notice again)  |                  |

("passes": nothing but review mode stands between the post and a boost.) A delete retracts the
post for good: a boosted post's reblog was removed by Mastodon with the post (the unboost is only
recorded, and its review item moves from boosted to retracted); an open boost intent is closed as
failed; a post already retracted is left alone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from relay.core.lifecycle import State
from relay.core.verdict import Decision, Verdict

REVIEW_RULE = "mode"  # the reason review mode adds to a post that passed every rule
# The review states from which an accepted edit boosts the post.
REBOOSTABLE = frozenset({State.HELD, State.REJECTED, State.EXPIRED})


def passes(verdict: Verdict) -> bool:
    """True when nothing but review mode stands between the post and a boost."""
    return all(r.decision is Decision.ACCEPT or r.rule == REVIEW_RULE for r in verdict.reasons)


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a post stands when its edit or delete comes (read from the store)."""

    boosted: bool = False  # the bot's reblog of it is done (and not undone)
    boost_pending: bool = False  # a boost intent is open
    queue_state: State | None = None  # its review queue item's state; None: never queued
    retracted: bool = False  # deleted by its author (never boosted again)


class EditAction(enum.Enum):
    """What the pipeline does about an edited post."""

    NOTHING = "nothing"
    BOOST = "boost"  # write a boost intent
    HOLD = "hold"  # hold it for a moderator (again)
    REHOLD = "rehold"  # boosted: undo the reblog and hold it for a moderator (boosted --hold--> held)
    UNBOOST = "unboost"  # undo the reblog; a boosted review item becomes retracted
    CANCEL = "cancel"  # close the open boost intent as failed


_EDIT_LOG = {  # the log event of each action taken on a boosted or intended post
    EditAction.HOLD: "post.edit_held",
    EditAction.REHOLD: "post.edit_held",
    EditAction.UNBOOST: "post.edit_unboost",
    EditAction.CANCEL: "post.edit_cancelled",
}
UNBOOST_REASON = "edited: no longer passes"
CANCEL_REASON = "edited before the boost: no longer passes"


def on_edit(standing: Standing, verdict: Verdict, *, on_edit: str = "unboost") -> EditAction:
    """What an edited post's new `verdict` means where it stands (`on_edit`: the config's choice
    for a boosted post that no longer passes: "unboost", or "hold" when the verdict holds)."""
    if standing.boosted:
        if passes(verdict):
            return EditAction.NOTHING
        if on_edit == "hold" and verdict.decision is Decision.HOLD:
            return EditAction.REHOLD
        return EditAction.UNBOOST
    if standing.boost_pending:
        return EditAction.NOTHING if passes(verdict) else EditAction.CANCEL
    state = standing.queue_state
    if verdict.decision is Decision.ACCEPT and (state is None or state in REBOOSTABLE):
        return EditAction.BOOST
    if verdict.decision is Decision.HOLD and (state is None or state is State.HELD):
        return EditAction.HOLD
    return EditAction.NOTHING


def edit_log(standing: Standing, action: EditAction) -> str | None:
    """The log event of an edit's action on a boosted post or one about to be (None: none)."""
    return _EDIT_LOG.get(action) if standing.boosted or standing.boost_pending else None


class DeleteAction(enum.Enum):
    """What the pipeline does about a deleted post (every one but NOTHING marks it retracted)."""

    NOTHING = "nothing"  # already retracted
    RECORD_UNBOOST = "record_unboost"  # boosted: Mastodon removed the reblog; record it, call nothing
    CANCEL = "cancel"  # a boost intent is open: close it as failed
    RETRACT = "retract"  # never boosted: only never boost it


DELETE_REASON = "deleted by its author"
CANCEL_DELETED_REASON = "deleted by its author before the boost"


def on_delete(standing: Standing) -> DeleteAction:
    """What the author's delete means where the post stands."""
    if standing.retracted:
        return DeleteAction.NOTHING
    if standing.boosted:
        return DeleteAction.RECORD_UNBOOST
    if standing.boost_pending:
        return DeleteAction.CANCEL
    return DeleteAction.RETRACT


def moves_queue(standing: Standing) -> bool:
    """An unboost (by edit or delete) moves the review item to retracted only from boosted."""
    return standing.queue_state is State.BOOSTED
