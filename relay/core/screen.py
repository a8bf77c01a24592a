"""PURE moderation filter: `screen(post, rules, history, now) -> Verdict`.

`screen` runs every check in `CHECKS` and keeps every reason, each naming its rule as relay.toml
spells it (`visibility`, `consent.refuse_tags`, `limits.max_links`, ...). The decision is the most
severe reason's; a post with no reason is accepted in open mode and held in review mode.
No I/O: the clock (`now`) and what the store knows (`History`) are passed in.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from urllib.parse import urlsplit

from relay.core.anchors import ANCHOR_RULE, anchor_detail
from relay.core.history import History, covering_domains
from relay.core.post import Post
from relay.core.rules import Rules
from relay.core.verdict import Decision, Reason, Verdict

_SEVERITY = {Decision.ACCEPT: 0, Decision.HOLD: 1, Decision.REJECT: 2}
_ACTION = {"accept": Decision.ACCEPT, "hold": Decision.HOLD, "reject": Decision.REJECT}

Check = Callable[[Post, Rules, History, datetime], Iterator[Reason]]


def screen(post: Post, rules: Rules, history: History, now: datetime) -> Verdict:
    """Decide on `post`: the most severe decision of every rule that applied, with all their reasons.

    A trusted author (config or moderator) bypasses HOLD rules: their reasons stay in the verdict,
    marked as bypassed, with decision ACCEPT; REJECT rules (blocks, consent, visibility...) still
    reject. In review mode a post no rule held or rejected is held unless its author is trusted.
    """
    reasons = [reason for check in CHECKS for reason in check(post, rules, history, now)]
    if is_trusted(post, rules, history):
        reasons = [_bypass(r) if r.decision is Decision.HOLD else r for r in reasons]
        if not any(r.decision is Decision.REJECT for r in reasons):
            reasons.append(Reason("trusted", Decision.ACCEPT, f"{post.author.acct} is trusted"))
    elif rules.mode == "review" and all(r.decision is Decision.ACCEPT for r in reasons):
        reasons.append(Reason("mode", Decision.HOLD, "review mode: a moderator approves every post"))
    decision = max((r.decision for r in reasons), key=_SEVERITY.__getitem__, default=Decision.ACCEPT)
    return Verdict(decision=decision, reasons=tuple(reasons))


def is_trusted(post: Post, rules: Rules, history: History) -> bool:
    """Whether the author is trusted, by relay.toml (`rules.blocks.trusted`) or by a moderator."""
    return history.trusted or post.author.acct.lower() in rules.blocks.trusted


def _bypass(reason: Reason) -> Reason:
    return Reason(reason.rule, Decision.ACCEPT, f"{reason.detail} (bypassed: trusted author)")


def _action(rule: str, action: str, detail: str) -> Iterator[Reason]:
    if action != "accept":
        yield Reason(rule, _ACTION[action], detail)


def check_visibility(post: Post, rules: Rules, history: History, now: datetime) -> Iterator[Reason]:
    """Only public posts by default; unlisted when configured; private and direct never; a reply
    to an anchor only when public (its author did not put it in any public feed otherwise)."""
    if post.visibility in ("private", "direct"):
        yield Reason("visibility", Decision.REJECT, f"{post.visibility} posts are never boosted")
    elif history.anchor is not None and post.visibility != "public":
        detail = f"{post.visibility} replies to an anchor are not boosted (only public ones)"
        yield Reason("visibility", Decision.REJECT, detail)
    elif post.visibility not in rules.visibility:
        detail = f"{post.visibility} posts are not boosted (rules.visibility)"
        yield Reason("visibility", Decision.REJECT, detail)


def check_hashtags(post: Post, rules: Rules, history: History, now: datetime) -> Iterator[Reason]:
    """A watched hashtag must really be on the post, not only mentioned in a link or a bio; a
    reply to an anchor post needs none (the reason says which anchor)."""
    if history.anchor is not None:
        yield Reason(ANCHOR_RULE, Decision.ACCEPT, anchor_detail(history.anchor))
    elif post.tags.isdisjoint(rules.hashtags):
        watched = ", ".join(f"#{t}" for t in sorted(rules.hashtags))
        found = ", ".join(f"#{t}" for t in sorted(post.tags)) or "none"
        detail = f"no watched hashtag ({watched}) on the post; it has {found}"
        yield Reason("hashtags", Decision.REJECT, detail)


def check_self_and_boosts(post: Post, rules: Rules, history: History, now: datetime) -> Iterator[Reason]:
    """Never boost the booster's own posts, nor a post that arrived as somebody's boost."""
    if rules.self_acct and post.author.acct.lower() == rules.self_acct:
        yield Reason("self_acct", Decision.REJECT, "the booster's own post")
    if post.boosted_by is not None:
        detail = f"arrived as a boost by {post.boosted_by.acct}; boosts are not re-boosted"
        yield Reason("boost", Decision.REJECT, detail)


def check_replies(post: Post, rules: Rules, history: History, now: datetime) -> Iterator[Reason]:
    """Replies are skipped by default, allowed, or allowed only below configured anchor posts; a
    reply to an `[[anchors]]` post is what those anchors are for."""
    if not post.is_reply or rules.replies == "allow" or history.anchor is not None:
        return
    if rules.replies == "anchors" and _is_anchor(post, rules.reply_anchors):
        return
    detail = "a reply to a post that is not an anchor" if rules.replies == "anchors" else "a reply"
    yield Reason("replies", Decision.REJECT, f"{detail} (in reply to {post.in_reply_to_id})")


def _is_anchor(post: Post, anchors: tuple[str, ...]) -> bool:
    # The status JSON names the parent by its id on the source instance only: an anchor matches as
    # that id, or as a URL/URI on the source instance whose last path segment is that id.
    parent = post.in_reply_to_id
    for anchor in anchors:
        if anchor == parent:
            return True
        parts = urlsplit(anchor)
        if parts.netloc.lower() == post.source and parts.path.rstrip("/").rpartition("/")[2] == parent:
            return True
    return False


def check_consent(post: Post, rules: Rules, history: History, now: datetime) -> Iterator[Reason]:
    """The author's own no: #nobot and the like, an opt-out, opt-in mode, and optionally indexable/noindex."""
    consent = rules.consent
    refused = post.author.profile_tags & consent.refuse_tags
    if refused:
        tags = ", ".join(f"#{t}" for t in sorted(refused))
        yield Reason("consent.refuse_tags", Decision.REJECT, f"the author's profile says {tags}")
    if history.opted_out:
        yield Reason("consent.opt_out", Decision.REJECT, "the author opted out of boosts")
    if consent.mode == "opt-in" and not (history.opted_in or is_trusted(post, rules, history)):
        yield Reason("consent.mode", Decision.REJECT, "opt-in mode and the author has not opted in")
    if consent.respect_indexable and post.author.indexable is False:
        yield Reason("consent.respect_indexable", Decision.REJECT, "the author's account is not indexable")
    if consent.respect_noindex and post.author.noindex is True:
        yield Reason("consent.respect_noindex", Decision.REJECT, "the author's profile asks for noindex")


def check_account_kind(post: Post, rules: Rules, history: History, now: datetime) -> Iterator[Reason]:
    """Bot accounts (rejected by default) and group accounts (accepted by default)."""
    if post.author.bot:
        yield from _action("bots", rules.bots, "a bot account")
    if post.author.group:
        yield from _action("groups", rules.groups, "a group account")


def domain_matches(domain: str, blocked: frozenset[str]) -> str | None:
    """The entry of `blocked` that covers `domain` (itself or a parent domain), or None."""
    if not blocked:
        return None
    full = domain.lower()
    if full in blocked:
        return full
    for candidate in covering_domains(full.partition(":")[0]):
        if candidate in blocked:
            return candidate
    return None


def check_blocks(post: Post, rules: Rules, history: History, now: datetime) -> Iterator[Reason]:
    """Blocked accounts and domains (subdomains included), from relay.toml and from moderators."""
    acct = post.author.acct.lower()
    if acct in rules.blocks.accounts:
        yield Reason("blocks.accounts", Decision.REJECT, f"{acct} is blocked in the configuration")
    if history.account_blocked is not None:
        detail = f"{acct} blocked by a moderator: {history.account_blocked}"
        yield Reason("blocks.accounts", Decision.REJECT, detail)
    entry = domain_matches(post.author.domain, rules.blocks.domains)
    if entry:
        yield Reason("blocks.domains", Decision.REJECT, f"{post.author.domain} is blocked ({entry})")
    if history.domain_blocked is not None:
        yield Reason(
            "blocks.domains",
            Decision.REJECT,
            f"{post.author.domain} blocked by a moderator: {history.domain_blocked}",
        )
    limited = domain_matches(post.author.domain, rules.blocks.limited_domains)
    if limited:
        detail = f"{post.author.domain} is limited ({limited})"
        yield Reason("blocks.domain_block_file", Decision.HOLD, detail)


def check_keywords(post: Post, rules: Rules, history: History, now: datetime) -> Iterator[Reason]:
    """Reject and hold words (case- and accent-insensitive) and regexes on the text and content warning."""
    keywords = rules.keywords
    if not (keywords.reject or keywords.hold or keywords.reject_regex or keywords.hold_regex):
        return
    folded = " ".join(post.folded_text.split())  # "free  money" is "free money"
    for rule, words, decision in (
        ("keywords.reject", keywords.reject, Decision.REJECT),
        ("keywords.hold", keywords.hold, Decision.HOLD),
    ):
        if words and _any_word_pattern(words, keywords.match).search(folded):
            hits = [w for w in words if _word_pattern(w, keywords.match).search(folded)]
            yield Reason(rule, decision, "matched " + ", ".join(repr(h) for h in hits))
    for rule, patterns, decision in (
        ("keywords.reject_regex", keywords.reject_regex, Decision.REJECT),
        ("keywords.hold_regex", keywords.hold_regex, Decision.HOLD),
    ):
        hits = [p.pattern for p in patterns if p.search(post.match_text) or p.search(folded)]
        if hits:
            yield Reason(rule, decision, "matched /" + "/, /".join(hits) + "/")


@functools.lru_cache(maxsize=1024)
def _word_pattern(word: str, match: str) -> re.Pattern[str]:
    escaped = re.escape(word)
    return re.compile(escaped if match == "substring" else rf"(?<!\w){escaped}(?!\w)")


@functools.lru_cache(maxsize=64)
def _any_word_pattern(words: tuple[str, ...], match: str) -> re.Pattern[str]:
    """Matches where the `_word_pattern` of any of `words` does: one scan of a post that has none."""
    either = "|".join(map(re.escape, words))
    return re.compile(f"(?:{either})" if match == "substring" else rf"(?<!\w)(?:{either})(?!\w)")


def check_limits(post: Post, rules: Rules, history: History, now: datetime) -> Iterator[Reason]:
    """Spam shape: too many hashtags, mentions or links; young or silent accounts; repeats; floods."""
    limits = rules.limits
    for rule, count, limit, what in (
        ("limits.max_hashtags", len(post.tags), limits.max_hashtags, "hashtags"),
        ("limits.max_mentions", post.mentions, limits.max_mentions, "mentions"),
        ("limits.max_links", post.links, limits.max_links, "links"),
    ):
        if limit and count > limit:
            yield Reason(rule, Decision.HOLD, f"{count} {what}, more than {limit}")
    created = post.author.created_at
    if limits.min_account_age_days and created is not None:
        age = (now - created).days
        if age < limits.min_account_age_days:
            yield Reason(
                "limits.min_account_age_days",
                Decision.HOLD,
                f"account is {age} days old, less than {limits.min_account_age_days}",
            )
    statuses = post.author.statuses_count
    if limits.min_statuses and statuses is not None and statuses < limits.min_statuses:
        detail = f"{statuses} posts, fewer than {limits.min_statuses}"
        yield Reason("limits.min_statuses", Decision.HOLD, detail)
    if history.same_text_seen:
        yield from _action("limits.same_text", limits.same_text, "the same text from this author again")
    cap = limits.max_boosts_per_author_24h
    if cap and history.boosts_last_24h >= cap:
        yield Reason(
            "limits.max_boosts_per_author_24h",
            Decision.REJECT,
            f"already {history.boosts_last_24h} posts of this author accepted for boosting in 24 h"
            f" (at most {cap})",
        )


def check_content(post: Post, rules: Rules, history: History, now: datetime) -> Iterator[Reason]:
    """Content warnings, sensitive media, missing alt text, languages, and posts known only from RSS."""
    if post.spoiler_text.strip():
        detail = f"content warning: {post.spoiler_text!r}"
        yield from _action("content_warning", rules.content_warning, detail)
    if post.sensitive:
        yield from _action("sensitive", rules.sensitive, "marked sensitive")
    missing = sum(1 for m in post.media if not m.has_alt)
    if missing:
        detail = f"{missing} attachment(s) without alt text"
        yield from _action("media_without_alt", rules.media_without_alt, detail)
    if rules.languages and post.language and post.language.split("-")[0].lower() not in rules.languages:
        allowed = ", ".join(sorted(rules.languages))
        yield Reason("languages", Decision.REJECT, f"language {post.language!r} is not one of {allowed}")
    if not post.complete:
        yield Reason(
            "complete",
            Decision.HOLD,
            f"seen only in a {post.tags_from} feed: author profile, replies and language unknown",
        )


CHECKS: tuple[Check, ...] = (
    check_visibility,
    check_hashtags,
    check_self_and_boosts,
    check_replies,
    check_consent,
    check_account_kind,
    check_blocks,
    check_keywords,
    check_limits,
    check_content,
)
