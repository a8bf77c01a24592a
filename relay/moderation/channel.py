"""The moderation channel: moderators (and authors) steer the relay by direct message to the bot.

    user stream (notification events) ─┐
    catch-up of mentions on connect    ├─► queue ─► Moderation.handle (main thread) ─► reply DMs
                                        ┘
    pipeline holds a post ─► Moderation.on_hold ─► one hold DM, or a digest of several

Everything runs on the relay's one store thread with the home client the booster already uses
(Mastodon.py clients are not thread-safe); only `relay.moderation.mentions.MentionFetcher` has its own
client in its own thread. This module only reads and sends: who may do what, what runs and which
replies go back are decided in `relay.moderation.guards` (pure), the texts are
`relay.moderation.notices`, and the commands act on the store and the booster's journal in
`relay.moderation.actions`. Each mention
is handled once: its status id is recorded in the same transaction as the command's effects, so
neither a stream and a catch-up delivering it twice nor a restart runs a command again (handled
ids are forgotten after 30 days, long after any second delivery).

`tick()` also expires old holds and, with `[moderation] silence_alert_minutes`, tells the
moderators when no source has delivered anything for that long, and when posts come again
(decided in `relay.core.silence`).

At start the moderators' accounts are looked up on the home instance (their `AccountId`, the
account URI and the home instance's id, is what a DM's sender must match) and, by
`[moderation] dm_policy`, the bot follows them or its notification policy accepts private
mentions: since Mastodon 4.3, private mentions from accounts the bot does not follow are
otherwise filtered away where no stream shows them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from mastodon import Mastodon, MastodonError, MastodonNotFoundError, MastodonRatelimitError

from relay.config.load import Config
from relay.core import silence
from relay.core.accounts import AccountId
from relay.core.dm import DirectMessage
from relay.core.ids import id_key
from relay.core.items import Mention, MentionsSeen
from relay.core.lifecycle import Event, JournalKind, JournalState, State
from relay.core.mastodon_json import MalformedStatus
from relay.core.post import Post
from relay.core.screen import QUOTE_RULE
from relay.core.verdict import Decision, Verdict
from relay.moderation import grammar as c
from relay.moderation.actions import Actions, Context, Outcome, Settings, expire
from relay.moderation.guards import (
    Batcher,
    Refusals,
    Who,
    answer,
    lookup_due,
    named_urls,
    steps,
    triage,
)
from relay.moderation.lookup import find_account
from relay.moderation.notices import (
    HeldPost,
    announcement,
    boost_failed,
    boosted,
    command_failed,
    mention_prefix,
    replies,
)
from relay.sources.rest import as_json
from relay.store.records import MemberAccount
from relay.store.store import Store

log = structlog.get_logger()

CURSOR = "moderation.mentions_cursor"  # the newest mention notification the catch-up read
DIGEST = "moderation.digest:"  # + status id of a digest DM (a reply to it can't name one post)
SILENCE = "moderation.silence"  # the silence of the sources the moderators were told of (relay.core.silence)
EXPIRY_EVERY = 60.0  # seconds between two looks for expired holds (and old handled mentions)
HANDLED_KEEP = timedelta(days=30)  # handled mentions are remembered this long: far past any replay
SILENCE_EVERY = 10.0  # seconds between two looks for silent sources (at most: a quarter of the limit)
SILENCE_RETRY = 60.0  # seconds before a silence alert that could not be sent is tried again


class Moderation:
    """The DM channel of one running relay (main thread only; see the module docstring)."""

    def __init__(
        self,
        api: Mastodon,
        store: Store,
        config: Config,
        *,
        me: Mapping[str, Any],
        self_acct: str,
        streams: Callable[[], tuple[int, int]] = lambda: (0, 0),
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.store = store
        self.config = config.moderation
        self.moderators = self.config.moderators
        self.home_host = config.home.host
        self.self_acct = self_acct
        self.home_domain = self_acct.rpartition("@")[2]  # the accounts' domain (may differ from the host)
        self._accounts: dict[str, AccountId | None] = dict.fromkeys(self.moderators)
        self._ids: dict[str, str] = {}
        self.who = Who(self_acct, AccountId.of(me), dict(self._accounts))
        self.bot_handles = (self_acct, self_acct.partition("@")[0])
        self.refusals = Refusals(self.config.refusal_interval)
        self.batcher = Batcher(self.config.digest_interval)
        expiry = timedelta(days=self.config.hold_expiry_days)
        settings = Settings(
            home_host=self.home_host,
            hashtags=config.hashtags,
            consent_mode=config.rules.consent.mode,
            hold_expiry=expiry,
            directory=config.directory.enabled,
        )
        self.actions = Actions(store, settings, streams=streams)
        self.expiry = expiry
        # The catch-up cursor: the newest mention notification handled (main thread only). The
        # wiring (relay.runtime.relay) hands it to MentionFetcher, its reader in another thread:
        # this value after `start()`, then every move `handle()` returns.
        self.mentions_cursor: str | None = None
        self._clock = clock
        self._now = now
        self._awaiting: dict[str, tuple[str, str]] = {}  # uri → (moderator, their command's status id)
        self._boosted: list[str] = []
        self._next_expiry = 0.0
        self._resolved_at: dict[str, float] = {}
        self._started = now()  # the silence of the sources is counted from here at the latest
        self._next_silence = 0.0

    # -- start-up ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Find the moderators, make sure their DMs arrive, and pick up what a stop left undone."""
        for handle in self.moderators:
            self._resolve(handle)
        self._ensure_dms_arrive()
        self.mentions_cursor = self.store.settings.get_setting(CURSOR)
        for item in self.store.queue.pending():  # held, but the relay stopped before telling anyone
            if item.announcement_id is None and self.moderators:
                self.batcher.add(HeldPost(item.short_id, item.acct, item.url, "", item.verdict.reasons))

    def _resolve(self, handle: str) -> None:
        """Look up a moderator on the home instance: its account (`AccountId`) is what a DM must come from."""
        self._resolved_at[handle] = self._clock()
        try:
            account = find_account(self.api, handle, self.home_domain)
        except MastodonError as exc:
            log.warning("moderation.lookup_failed", moderator=handle, error=type(exc).__name__)
            return
        if account is None:
            log.warning(
                "moderation.moderator_not_found",
                moderator=handle,
                fix="check [moderation] moderators: user@domain as the instance reports it",
            )
            return
        identity = AccountId.of(account)
        if not identity.known:
            log.warning(
                "moderation.moderator_unrecognisable",
                moderator=handle,
                fix="the home instance gives this account neither uri nor id: its DMs cannot be trusted",
            )
            return
        self._accounts[handle] = identity
        if identity.id:
            self._ids[handle] = identity.id
        self.who = Who(self.who.self_acct, self.who.self_id, dict(self._accounts))

    def _ensure_dms_arrive(self) -> None:
        policy = self.config.dm_policy
        try:
            if policy == "follow" and self._ids:
                relations = self.api.account_relationships(list(self._ids.values()))
                following = {str(r["id"]) for r in relations if r.get("following")}
                for handle, account_id in self._ids.items():
                    if account_id not in following:
                        self.api.account_follow(account_id)
                        log.info("moderation.followed", moderator=handle)
            current = dict(self.api.notifications_policy())
        except MastodonNotFoundError:
            return  # before Mastodon 4.3: no notification policy filters DMs
        except MastodonError as exc:
            log.warning("moderation.dm_policy_failed", policy=policy, error=type(exc).__name__)
            return
        if policy == "accept" and current.get("for_private_mentions") != "accept":
            try:
                current = dict(self.api.update_notifications_policy(for_private_mentions="accept"))
                log.info("moderation.policy_set", for_private_mentions="accept")
            except MastodonError as exc:
                log.warning("moderation.dm_policy_failed", policy=policy, error=type(exc).__name__)
        if policy != "follow" and current.get("for_not_following", "accept") != "accept":
            log.warning(
                "moderation.dms_may_be_filtered",
                for_not_following=current.get("for_not_following"),
                fix='set dm_policy = "follow", or accept notifications from accounts the bot does not follow',
            )

    # -- mentions ---------------------------------------------------------------------------------

    def handle(self, item: Mention | MentionsSeen) -> str | None:
        """Handle one mention of the bot (once), or move the catch-up cursor.

        Returns the catch-up cursor when this moved it, for the wiring to hand to `MentionFetcher`.
        """
        before = self.mentions_cursor
        if isinstance(item, MentionsSeen):
            with self.store.atomic():
                self._advance(item.notification_id)
        else:
            self._mention(item)
        return self.mentions_cursor if self.mentions_cursor != before else None

    def _mention(self, item: Mention) -> None:
        """Handle a mention not handled before: triage, run its commands, answer (see `guards`)."""
        dm, store = item.dm, self.store
        if store.settings.is_mention_handled(dm.status_id):
            log.debug("dm.duplicate", status_id=dm.status_id, via=item.via)
            if item.via == "catch-up":
                with store.atomic():
                    self._advance(dm.notification_id)
            return
        if lookup_due(dm.acct, self.who, self._resolved_at.get(dm.acct), self._clock()):
            self._resolve(dm.acct)
        verdict = triage(dm, self.who, bot_handles=self.bot_handles)
        log.info(
            "dm.received",
            acct=dm.acct,
            status_id=dm.status_id,
            visibility=dm.visibility,
            via=item.via,
            moderator=verdict.moderator,
            commands=[c.render(cmd) for cmd in verdict.commands],
            refused=list(verdict.refused_words),
            dropped=verdict.dropped,
        )
        # Only what triage let through names URLs: a moderator's commands, or anyone's `intro URL`.
        resolved = self._resolve_urls(named_urls(verdict.commands))
        sender = self._sender(dm) if any(isinstance(x, c.Join) for x in verdict.commands) else None
        reply_post = None
        if dm.in_reply_to_id is not None and any(
            isinstance(x, c.Intro) and x.url is None for x in verdict.commands
        ):
            reply_post = self._status(dm.in_reply_to_id)
        reply_to, digest = None, False
        if dm.in_reply_to_id is not None:
            reply_to = store.queue.queue_by_announcement(dm.in_reply_to_id)
            digest = reply_to is None and store.settings.get_setting(DIGEST + dm.in_reply_to_id) is not None
        now = self._now()
        out = Outcome(lines=list(verdict.answers))
        with store.atomic():
            store.settings.mark_mention_handled(dm.status_id, now)
            if item.via == "catch-up":
                self._advance(dm.notification_id)
            ctx = Context(dm.acct, verdict.moderator, now, reply_to, resolved, sender, reply_post)
            for step in steps(verdict.commands, digest=digest):
                if isinstance(step, str):
                    out.lines.append(step)
                else:
                    self._run(step, ctx, out)
            if verdict.refuse:
                store.audit_log.audit(
                    "dm.refused", actor=dm.acct, uri=dm.uri, detail=" ".join(verdict.refused_words)
                )
        unsolicited = verdict.unsolicited and (verdict.moderator or self._may_answer(dm))
        for uri in out.approved:
            self._awaiting[uri] = (dm.acct, dm.status_id)
        for text in answer(dm.acct, verdict, out.lines, unsolicited=unsolicited):
            self._send(text, in_reply_to=dm.status_id)

    def _run(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        try:
            with self.store.savepoint():  # a command that fails half-way leaves nothing behind
                self.actions.run(cmd, ctx, out)
        except Exception:  # one failing command must not lose the answers to the others
            log.exception("dm.command_failed", command=c.render(cmd), acct=ctx.actor)
            out.lines.append(command_failed(c.render(cmd)))

    def _may_answer(self, dm: DirectMessage) -> bool:
        """Answers nobody asked a moderator for: never to bots (no loops), rate-limited per sender."""
        return not dm.sender_is_bot and self.refusals.allow(dm.acct, self._clock())

    def _advance(self, notification_id: str) -> None:
        current = self.mentions_cursor
        if notification_id and (current is None or id_key(notification_id) > id_key(current)):
            self.store.settings.set_setting(CURSOR, notification_id)
            self.mentions_cursor = notification_id

    def _resolve_urls(self, urls: list[str]) -> dict[str, Post | None]:
        """Each post URL, as the home instance knows it (None: not found)."""
        resolved: dict[str, Post | None] = {}
        for url in urls:
            try:
                result = self.api.search_v2(url, resolve=True, result_type="statuses")
                statuses = [as_json(s) for s in result.get("statuses") or ()]
                resolved[url] = Post.from_status(statuses[0], source=self.home_host) if statuses else None
            except (MastodonError, MalformedStatus) as exc:
                log.warning("dm.resolve_failed", url=url, error=type(exc).__name__)
                resolved[url] = None
        return resolved

    def _sender(self, dm: DirectMessage) -> MemberAccount | None:
        """The sender's profile on the home instance, for a `join` (None: not found, or not the
        account that sent the DM)."""
        try:
            account = find_account(self.api, dm.acct, self.home_domain)
        except MastodonError as exc:
            log.warning("dm.sender_lookup_failed", acct=dm.acct, error=type(exc).__name__)
            return None
        # The same account as the DM's sender, by the identity the home instance gives (GoToSocial
        # gives no uri: its id then), never by handle or display name alone.
        if account is None or not AccountId.of(account).matches(AccountId(dm.account_uri, dm.account_id)):
            return None
        return MemberAccount(
            acct=dm.acct,
            uri=dm.account_uri,
            url=str(account.get("url") or "") or None,
            display_name=str(account.get("display_name") or ""),
            note=str(account.get("note") or ""),
            account_id=str(account["id"]),
        )

    def _status(self, status_id: str) -> Post | None:
        """The home instance's status `status_id` (the post a DM replies to), or None."""
        try:
            return Post.from_status(as_json(self.api.status(status_id)), source=self.home_host)
        except (MastodonError, MalformedStatus) as exc:
            log.warning("dm.status_failed", status_id=status_id, error=type(exc).__name__)
            return None

    # -- holds, boosts, expiry --------------------------------------------------------------------

    def on_hold(self, short_id: str, post: Post, verdict: Verdict) -> None:
        """A post was held (after commit): announce it with the next notice or digest."""
        if not self.moderators:
            return
        # What held it, and that it is a quote (whose, and the start of the quoted text) even when
        # quotes are accepted and review mode held it.
        reasons = (
            tuple(r for r in verdict.reasons if r.decision is not Decision.ACCEPT or r.rule == QUOTE_RULE)
            or verdict.reasons
        )
        self.batcher.add(HeldPost(short_id, post.author.acct, post.url or post.uri, post.text, reasons))

    def on_boosted(self, uri: str) -> None:
        """The booster reblogged `uri`: confirm to the moderator who asked for it, if anyone did."""
        if uri in self._awaiting:
            self._boosted.append(uri)

    def tick(self) -> None:
        """Send due announcements, confirmations and silence alerts; expire old holds and forget
        old handled mentions (called by the main loop)."""
        self._announce()
        self._confirm()
        self._watch_silence()
        if self._clock() >= self._next_expiry:
            self._next_expiry = self._clock() + EXPIRY_EVERY
            now = self._now()
            with self.store.atomic():
                expired = expire(self.store, now, self.expiry)
                forgotten = self.store.settings.prune_handled_mentions(now - HANDLED_KEEP)
            if expired:
                log.info("queue.expired", ids=expired)
            if forgotten:
                log.debug("dm.handled_pruned", mentions=forgotten)

    def _announce(self) -> None:
        batch = self.batcher.take(self._clock())
        batch = [
            p for p in batch if (item := self.store.queue.queue_item(p.short_id)) and item.state == "held"
        ]
        if not batch:
            return
        ids = [self._send(text) for text in announcement(batch, self.moderators)]
        if None in ids:
            self.batcher.give_back(batch)
            return
        with self.store.atomic():
            if len(batch) == 1:
                self.store.queue.set_announcement(batch[0].short_id, str(ids[0]))
            else:  # a reply to a digest can't say which post it means; remember it was one
                for status_id in ids:
                    self.store.settings.set_setting(
                        DIGEST + str(status_id), " ".join(p.short_id for p in batch)
                    )
                for post in batch:
                    self.store.queue.set_announcement(post.short_id, f"{DIGEST}{ids[0]}:{post.short_id}")
        log.info("queue.announced", ids=[p.short_id for p in batch], messages=len(ids))

    def _confirm(self) -> None:
        done: dict[tuple[str, str], list[str]] = {}
        done_uris, self._boosted = self._boosted, []
        for uri in done_uris:
            who = self._awaiting.pop(uri, None)
            if who is not None:
                done.setdefault(who, []).append(boosted(self._name(uri)))
        for uri, who in list(self._awaiting.items()):
            journal = self.store.boosts.journal(uri)
            last = journal[-1] if journal else None
            if last is not None and last.kind is JournalKind.BOOST and last.state is JournalState.FAILED:
                del self._awaiting[uri]
                item = self.store.queue.queue_by_uri(uri)
                if item is not None and item.state is State.APPROVED:
                    self.store.queue.move(item.short_id, Event.FAIL, "relay", last.error)
                done.setdefault(who, []).append(boost_failed(self._name(uri), last.error))
        for (acct, status_id), lines in done.items():
            for text in replies(acct, lines):
                self._send(text, in_reply_to=status_id)

    def _watch_silence(self) -> None:
        """DM the moderators once when no source delivered anything for `silence_alert_minutes`,
        and once when events come again (see `relay.core.silence`)."""
        minutes = self.config.silence_alert_minutes
        if not minutes or self._clock() < self._next_silence:
            return
        self._next_silence = self._clock() + min(SILENCE_EVERY, minutes * 15)
        now = self._now()
        latest = max((s.last_seen for s in self.store.statistics.source_stats(now)), default=None)
        told = silence.from_setting(self.store.settings.get_setting(SILENCE))
        limit = timedelta(minutes=minutes)
        step = silence.watch(latest, started=self._started, now=now, limit=limit, told=told)
        if step is None:
            return
        text = mention_prefix(self.moderators) + silence.message(step, minutes)
        if self.moderators and self._send(text) is None:
            self._next_silence = self._clock() + SILENCE_RETRY
            return
        self.store.settings.set_setting(SILENCE, silence.to_setting(step), now)
        if isinstance(step, silence.Silent):
            log.warning("sources.silent", minutes=minutes, last_seen=latest and latest.isoformat())
        else:
            log.info("sources.resumed", last_seen=latest and latest.isoformat())

    def _name(self, uri: str) -> str:
        item = self.store.queue.queue_by_uri(uri)
        return f"{item.short_id} ({item.url or uri})" if item is not None else uri

    # -- sending ----------------------------------------------------------------------------------

    def _send(self, text: str, *, in_reply_to: str | None = None) -> str | None:
        """Post a direct message; its id, or None when the home instance refused (logged)."""
        try:
            status = self.api.status_post(text, visibility="direct", in_reply_to_id=in_reply_to)
        except MastodonRatelimitError:
            log.warning("dm.rate_limited", in_reply_to=in_reply_to)
            return None
        except MastodonError as exc:
            log.warning("dm.send_failed", in_reply_to=in_reply_to, error=type(exc).__name__)
            return None
        log.info("dm.sent", id=str(status["id"]), in_reply_to=in_reply_to, chars=len(text))
        return str(status["id"])
