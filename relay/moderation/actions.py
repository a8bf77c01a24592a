"""Run moderator and author commands against the store and the booster's journal; say what was done.

`Actions.run(cmd, ctx)` carries out one typed command (`relay.moderation.grammar`) inside the caller's
`store.atomic()` and returns its answer as lines for the DM. It makes no network calls: post URLs
named in the commands were resolved on the home instance by the caller beforehand
(`Context.resolved`). Boosts and unboosts are journal intents, so the booster does them within its
budgets (unreblog: 30 per 30 minutes) and after a crash. Review-queue moves go through
`relay.core.lifecycle.next_state`; a move the table refuses is logged and answered, never applied.
Everything a moderator or author changes is in the audit log (the store audits its own writes;
the rest is audited here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from relay.core.accounts import domain_of, norm_acct
from relay.core.dedupe import decide
from relay.core.lifecycle import Event, JournalKind, State, is_expired, next_state
from relay.core.post import Post
from relay.core.verdict import Decision
from relay.errors import IllegalTransition
from relay.moderation import grammar as c
from relay.moderation.handles import Account, PostUrl, Ref, ShortId
from relay.moderation.membership import Membership
from relay.moderation.notices import quiet, reason_note
from relay.store.records import MemberAccount, QueueItem
from relay.store.store import Store

log = structlog.get_logger()

QUEUE_LINES = 15  # held posts listed by `queue`; the rest are counted


@dataclass(frozen=True, slots=True)
class Settings:
    """What the actions need to know about the relay."""

    home_host: str
    hashtags: tuple[str, ...]
    consent_mode: str = "opt-out"
    hold_expiry: timedelta = timedelta(days=7)
    directory: bool = True  # whether the relay keeps a directory (`join`, `leave`, `intro`, `unlist`)


@dataclass(frozen=True, slots=True)
class Context:
    """One DM's circumstances: who sent it, the held post it replies to, the URLs it names."""

    actor: str  # the sender's user@domain
    moderator: bool
    now: datetime
    reply_to: QueueItem | None = None  # the held post announced by the DM this one answers
    resolved: Mapping[str, Post | None] = field(default_factory=dict)  # URL → post on home
    sender: MemberAccount | None = None  # the sender's profile, looked up for a `join`
    reply_post: Post | None = None  # the post the DM replies to, fetched for an `intro`


@dataclass
class Outcome:
    """What running a DM's commands gave: the answer, and the uris now waiting for their boost."""

    lines: list[str] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)


class Actions:
    """The command handlers; each appends its answer to an `Outcome`."""

    def __init__(self, store: Store, settings: Settings, *, streams: Callable[[], tuple[int, int]]) -> None:
        self.store = store
        self.settings = settings
        self._streams = streams  # (connected, total) for `status`
        self._handlers: dict[type, Callable[[c.Command, Context, Outcome], None]] = {
            c.Queue: self._queue,
            c.Why: self._why,
            c.Approve: self._approve,
            c.Reject: self._reject,
            c.Boost: self._boost,
            c.Unboost: self._unboost,
            c.Block: self._block,
            c.Unblock: self._unblock,
            c.Trust: self._trust,
            c.Untrust: self._untrust,
            c.Pause: self._pause,
            c.Resume: self._resume,
            c.Status: self._status,
            c.OptOut: self._optout,
            c.OptIn: self._optin,
            **Membership(store, settings).handlers(),
        }

    def run(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        """Carry out `cmd` (Help is answered by the caller: it has its own message sizes)."""
        self._handlers[type(cmd)](cmd, ctx, out)

    # -- finding posts ----------------------------------------------------------------------------

    def _uri(self, url: str, ctx: Context) -> str | None:
        post = ctx.resolved.get(url)
        if post is not None:
            return post.uri
        if self.store.posts.verdict_for(url) is not None or self.store.boosts.is_boosted(url):
            return url  # the URL is the post's uri
        return None

    def _item(self, ref: Ref | None, ctx: Context) -> QueueItem | str:
        """The held post `ref` names (None: the one replied to), or why there is none."""
        if ref is None:
            if ctx.reply_to is None:
                return "Which post? Reply to my hold DM, or name it by id (like h42) or link."
            return ctx.reply_to
        if isinstance(ref, ShortId):
            item = self.store.queue.queue_item(ref.id)
            return item if item is not None else f"There is no held post {ref.id}; `queue` lists them."
        uri = self._uri(ref.url, ctx)
        item = None if uri is None else self.store.queue.queue_by_uri(uri)
        return item if item is not None else f"{ref.url} was never held for review."

    def _move(self, item: QueueItem, event: Event, ctx: Context, reason: str | None = None) -> str | None:
        """Apply `event` to `item` if the review table allows it; else log and say why not."""
        try:
            next_state(item.state, event)
        except IllegalTransition as exc:
            log.warning("moderation.illegal_move", id=item.short_id, state=item.state, move=str(event))
            return f"{item.short_id}: {exc.message}."
        self.store.queue.move(item.short_id, event, ctx.actor, reason, ctx.now)
        return None

    def _paused_note(self) -> str:
        return " Boosting is paused: it goes out after `resume`." if self.store.settings.paused() else ""

    # -- the review queue -------------------------------------------------------------------------

    def _queue(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        items = self.store.queue.pending(QUEUE_LINES)
        total = self.store.queue.queue_length()
        if not items:
            out.lines.append("Nothing waits for review.")
            return
        noun = "post waits" if total == 1 else "posts wait"
        out.lines.append(f"{total} {noun} for review, oldest first:")
        for item in items:
            rules = ", ".join(r.rule for r in item.verdict.reasons if r.decision is not Decision.ACCEPT)
            who = quiet(item.acct or "?")
            out.lines.append(f"{item.short_id} {who} {item.url or item.uri} — {rules or 'review'}")
        if total > len(items):
            out.lines.append(f"…and {total - len(items)} more.")
        out.lines.append("Send `approve ID…`, `reject ID [reason]` or `why ID`.")

    def _why(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Why)
        item: QueueItem | str | None = None
        uri = None
        if isinstance(cmd.ref, PostUrl):
            uri = self._uri(cmd.ref.url, ctx)
            item = None if uri is None else self.store.queue.queue_by_uri(uri)
            if uri is None:
                out.lines.append(f"I know nothing about {cmd.ref.url}.")
                return
        else:
            item = self._item(cmd.ref, ctx)
            if isinstance(item, str):
                out.lines.append(item)
                return
            uri = item.uri
        verdict = self.store.posts.verdict_for(uri)
        name = item.short_id if isinstance(item, QueueItem) else uri
        decision = verdict.decision.value if verdict is not None else "not screened (boosted by hand?)"
        out.lines.append(f"{name}: {decision}")
        if isinstance(item, QueueItem):
            by = f" by {item.actor}" if item.actor != "relay" else ""
            out.lines.append(
                f"now {item.state}{by}{reason_note(item.reason)}; held {item.held_at:%Y-%m-%d %H:%M} UTC"
            )
        for reason in verdict.reasons if verdict is not None else ():
            out.lines.append(f"- {reason.rule} ({reason.decision.value}): {quiet(reason.detail)}")
        if self.store.boosts.is_boosted(uri):
            out.lines.append("It is boosted.")

    def _approve(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Approve)
        for ref in cmd.refs or (None,):
            item = self._item(ref, ctx)
            if isinstance(item, str):
                out.lines.append(item)
                continue
            if self.store.posts.is_retracted(item.uri):
                out.lines.append(f"{item.short_id} was retracted (deleted or withdrawn): never boosted.")
                continue
            if item.state == "rejected" and is_expired(item.held_at, ctx.now, self.settings.hold_expiry):
                out.lines.append(f"{item.short_id} was held too long ago to boost now.")
                continue
            refused = self._move(item, Event.APPROVE, ctx)
            if refused:
                out.lines.append(refused)
                continue
            self.store.boosts.boost_intent(item.uri, None, ctx.now)
            out.approved.append(item.uri)
            out.lines.append(f"Approved {item.short_id}: boosting it.{self._paused_note()}")

    def _reject(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Reject)
        item = self._item(cmd.ref, ctx)
        if isinstance(item, str):
            out.lines.append(item)
            return
        refused = self._move(item, Event.REJECT, ctx, cmd.reason)
        if refused:
            out.lines.append(refused)
            return
        self._cancel_boost(item.uri, f"rejected by {ctx.actor}")
        out.lines.append(f"Rejected {item.short_id}{reason_note(cmd.reason)}.")

    # -- boosts by hand ---------------------------------------------------------------------------

    def _boost(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Boost)
        post = ctx.resolved.get(cmd.url)
        store = self.store
        if post is None:
            out.lines.append(f"Not boosted: {self.settings.home_host} can't find {cmd.url}.")
            return
        if post.visibility != "public":
            out.lines.append(f"Not boosted: that post is {post.visibility}; only public posts are boosted.")
            return
        if store.posts.is_retracted(post.uri):
            out.lines.append("Not boosted: that post was retracted (deleted or unboosted); never again.")
            return
        if store.boosts.is_boosted(post.uri):
            out.lines.append("That post is already boosted.")
            return
        history = store.people.history(post.author.acct, "", ctx.now, uri=post.uri)
        blocked = history.account_blocked or history.domain_blocked
        if history.opted_out:
            out.lines.append(f"Not boosted: {post.author.acct} asked never to be boosted (optout).")
            return
        if blocked is not None:
            out.lines.append(f"Not boosted: {post.author.acct} is blocked ({quiet(blocked)}).")
            return
        edited_at = None if post.edited_at is None else post.edited_at.isoformat()
        store.posts.record_arrival(
            post.uri,
            decide(store.posts.stored(post.uri), edited_at),
            source=post.source,
            acct=post.author.acct,
            url=post.url,
            edited_at=edited_at,
            text_fingerprint=post.text_fingerprint,
            local_id=post.id or None,
            now=ctx.now,
        )
        item = store.queue.queue_by_uri(post.uri)
        if item is not None and item.state in (State.HELD, State.REJECTED, State.FAILED):
            self._move(item, Event.RETRY if item.state is State.FAILED else Event.APPROVE, ctx)
        store.boosts.boost_intent(post.uri, post.id or None, ctx.now)
        store.audit_log.audit(
            "moderator.boost", actor=ctx.actor, uri=post.uri, target=post.author.acct, now=ctx.now
        )
        out.approved.append(post.uri)
        out.lines.append(
            f"Boosting {post.url or post.uri} by {quiet(post.author.acct)}.{self._paused_note()}"
        )

    def _unboost(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Unboost)
        if isinstance(cmd.ref, ShortId):
            item = self.store.queue.queue_item(cmd.ref.id)
            uri = None if item is None else item.uri
            name = cmd.ref.id
        else:
            uri, name = self._uri(cmd.ref.url, ctx), cmd.ref.url
        if uri is None:
            out.lines.append(f"I know nothing about {name}.")
            return
        boosted, pending = (
            self.store.boosts.is_boosted(uri),
            self._cancel_boost(uri, f"withdrawn by {ctx.actor}"),
        )
        if not boosted and not pending:
            out.lines.append(f"{name} is not boosted.")
            return
        self._retract(uri, f"unboosted by {ctx.actor}", ctx)
        done = "Unboosting" if boosted else "Cancelled the boost of"
        out.lines.append(f"{done} {name}; it won't be boosted again.")

    # -- people -----------------------------------------------------------------------------------

    def _block(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Block)
        store, reason = self.store, cmd.reason or "no reason given"
        if isinstance(cmd.target, Account):
            name = cmd.target.handle
            store.people.block(name, reason, ctx.actor, ctx.now)
            boosted = store.boosts.boosts_by_author(name)
        else:
            name = cmd.target.name
            store.people.block(name, reason, ctx.actor, ctx.now)
            boosted = store.boosts.boosts_by_domain(name)
        undone, withdrawn = self._withdraw(
            boosted, lambda acct: _covers(name, acct), f"blocked: {reason}", ctx
        )
        unlisted = store.members.leave(name, "block", ctx.actor, ctx.now)
        out.lines.append(
            f"Blocked {name}{reason_note(cmd.reason)}.{_retraction_note(undone, withdrawn)}"
            + _unlisted_note(unlisted)
        )

    def _unblock(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Unblock)
        name = cmd.target.handle if isinstance(cmd.target, Account) else cmd.target.name
        existed = self.store.people.unblock(name, ctx.actor, ctx.now)
        out.lines.append(f"Unblocked {name}." if existed else f"{name} was not blocked.")

    def _trust(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Trust)
        self.store.people.trust(cmd.handle, ctx.actor, ctx.now)
        out.lines.append(f"Trusted {cmd.handle}: their posts skip review (blocks and consent still apply).")

    def _untrust(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Untrust)
        existed = self.store.people.untrust(cmd.handle, ctx.actor, ctx.now)
        out.lines.append(
            f"{cmd.handle} is no longer trusted." if existed else f"{cmd.handle} was not trusted."
        )

    def _optout(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        acct = norm_acct(ctx.actor)
        self.store.people.set_consent(acct, "opt-out", acct, ctx.now)
        undone, _ = self._withdraw(
            self.store.boosts.boosts_by_author(acct), lambda a: a == acct, "the author opted out", ctx
        )
        note = ""
        if undone:
            note = (
                f" I'm undoing my {undone} earlier boost{'s' if undone > 1 else ''} of your posts"
                " (Mastodon allows 30 undos per 30 minutes, so it can take a while)."
            )
        if self.store.members.leave(acct, "optout", acct, ctx.now):
            note += " You are no longer in the directory (`join` lists you again)."
        out.lines.append(f"Done: I won't boost your posts any more.{note} Send `optin` to change your mind.")

    def _optin(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        acct = norm_acct(ctx.actor)
        self.store.people.set_consent(acct, "opt-in", acct, ctx.now)
        tags = " ".join(f"#{t}" for t in self.settings.hashtags)
        out.lines.append(
            f"Thank you: your public posts with {tags} can be boosted (after the usual screening)."
            " Send `optout` to stop."
        )

    # -- the relay --------------------------------------------------------------------------------

    def _pause(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        if self.store.settings.paused():
            out.lines.append("Boosting is already paused; `resume` starts it again.")
            return
        self.store.settings.set_paused(True, ctx.actor, ctx.now)
        out.lines.append("Paused: nothing is boosted until `resume`. Posts are still screened and queued.")

    def _resume(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        if not self.store.settings.paused():
            out.lines.append("Boosting was not paused.")
            return
        self.store.settings.set_paused(False, ctx.actor, ctx.now)
        waiting = self.store.boosts.intent_count(JournalKind.BOOST)
        out.lines.append(f"Resumed: boosting again ({waiting} waiting).")

    def _status(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        stats = self.store.statistics.stats(ctx.now)
        connected, total = self._streams()
        verdicts = stats.verdicts_by_decision
        out.lines += [
            f"Boosting: {'PAUSED (`resume` starts it)' if self.store.settings.paused() else 'on'}.",
            f"Held for review: {stats.queue_length}.",
            f"Last 24 h: {stats.boosts_last_24h} boosted; screened {verdicts.get('accept', 0)} accepted,"
            f" {verdicts.get('hold', 0)} held, {verdicts.get('reject', 0)} rejected.",
            f"Streams: {connected} of {total} connected.",
        ]

    # -- retraction -------------------------------------------------------------------------------

    def _withdraw(
        self, boosted: Sequence[str], covers: Callable[[str], bool], reason: str, ctx: Context
    ) -> tuple[int, int]:
        """Unboost `boosted`, and withdraw held posts and open boost intents whose author `covers`
        matches; return (boosts undone, posts withdrawn before a boost)."""
        store = self.store
        for uri in boosted:
            self._retract(uri, reason, ctx, final=False)
        withdrawn = 0
        for item in store.queue.pending():
            if item.acct and covers(norm_acct(item.acct)):
                withdrawn += self._move(item, Event.RETRACT, ctx, reason) is None
        for entry in store.boosts.unfinished_intents():
            acct = store.posts.author_of(entry.uri) if entry.kind is JournalKind.BOOST else None
            if acct is not None and covers(acct):
                withdrawn += self._cancel_boost(entry.uri, reason)
                approved = store.queue.queue_by_uri(entry.uri)
                if approved is not None and approved.state == "approved":
                    self._move(approved, Event.RETRACT, ctx, reason)
        return len(boosted), withdrawn

    def _retract(self, uri: str, reason: str, ctx: Context, *, final: bool = True) -> None:
        """Write the unboost intent; move the queue item to `retracted`; with `final`, never again."""
        store = self.store
        if store.boosts.is_boosted(uri):
            store.boosts.unboost_intent(uri, None, ctx.now)
        item = store.queue.queue_by_uri(uri)
        if item is not None and item.state in ("boosted", "approved", "held", "failed"):
            self._move(item, Event.RETRACT, ctx, reason)
        if final:
            store.posts.mark_retracted(uri, reason, ctx.now, actor=ctx.actor)

    def _cancel_boost(self, uri: str, reason: str) -> bool:
        """Cancel an open boost intent for `uri` (approved, not yet boosted); whether there was one."""
        if self.store.boosts.boost_pending(uri):
            self.store.boosts.boost_failed(uri, reason)
            return True
        return False


def expire(store: Store, now: datetime, max_age: timedelta) -> list[str]:
    """Move held posts older than `max_age` to `expired`; return their short ids."""
    expired = []
    for item in store.queue.pending():
        if is_expired(item.held_at, now, max_age):
            days = max_age / timedelta(days=1)
            reason = f"nobody decided within {days:g} days"
            store.queue.move(item.short_id, Event.EXPIRE, "relay", reason, now)
            expired.append(item.short_id)
    return expired


def _covers(target: str, acct: str) -> bool:
    """Whether a block of `target` (user@domain, or a domain and its subdomains) covers `acct`."""
    if "@" in target:
        return acct == target
    domain = domain_of(acct) or ""
    return domain == target or domain.endswith("." + target)


def _unlisted_note(unlisted: Sequence[str]) -> str:
    if not unlisted:
        return ""
    if len(unlisted) == 1:
        return f" Took {unlisted[0]} out of the directory."
    return f" Took {len(unlisted)} members out of the directory."


def _retraction_note(undone: int, withdrawn: int) -> str:
    parts = []
    if undone:
        parts.append(f"undoing {undone} boost{'s' if undone > 1 else ''}")
    if withdrawn:
        parts.append(f"withdrew {withdrawn} post{'s' if withdrawn > 1 else ''} waiting to be boosted")
    return (" " + "; ".join(parts).capitalize() + ".") if parts else ""
