"""PURE DM texts of the moderation channel: hold notices, digests, and replies packed to fit a status.

Every text the bot sends a moderator is built here from plain data and fits Mastodon's
`MASTODON_MAX_CHARS` with the mentions (`prefix`) in front of it (`status_length` counts a link as
`URL_CHARS`, as Mastodon does). Text from a post or from a sender is `cut` at a word boundary and
made `quiet`: a would-be mention is defused, so quoting never adds recipients to a DM.

- `hold_notice(post)`: one held post, with its short id, author, link, excerpt and reasons; what
  does not fit goes first (excerpt, reasons' details, author, link), the short id never.
- `digest_notice(posts)`: several held posts at once, numbered across messages when they must be.
- `announcement(posts, moderators)`: either of those, addressed to the moderators.
- `replies(acct, lines)`: the answers to one sender, as few DMs as fit, lines kept whole.
- the fixed answers (`REFUSAL`, `ASK_FOR_DM`, `EDITED`, `DIGEST_NAMES_NONE`) and the short lines
  the channel sends after a command (`command_failed`, `boosted`, `boost_failed`).

No I/O and no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

REFUSAL = (
    "Sorry, only this relay's moderators can use that command, so nothing was done. "
    "Anyone can send `optout` (never boost my posts), `optin`, `join` or `leave` (the directory);"
    " `help` lists them."
)
ASK_FOR_DM = (
    "I take that command only by direct message, so nothing was done. "
    "Please send it again as a private mention (visibility: direct)."
)
EDITED = "I don't act on edited messages, so nothing was done. Please send the command again in a new DM."
DIGEST_NEEDS_ID = "That DM lists several posts: name one by its id, like `approve h42`."

MASTODON_MAX_CHARS = 500
URL_CHARS = 23  # Mastodon counts every link as 23 characters, however long
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# What Mastodon would turn into a mention (and so add as a recipient of the DM): "@name" that does
# not follow a word character or a slash. A zero-width space after the "@" keeps the look.
_MENTION = re.compile(r"(?<![\w/])@(?=\w)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ReasonLike(Protocol):
    """A screening reason (`relay.core.screen.Reason`): the rule's name and what it found."""

    @property
    def rule(self) -> str: ...

    @property
    def detail(self) -> str: ...


@dataclass(frozen=True, slots=True)
class HeldPost:
    """What a moderator needs to decide on a held post: its short id, author, link, text and reasons."""

    short_id: str
    author: str | None
    url: str | None
    text: str
    reasons: tuple[ReasonLike | str, ...] = ()


def status_length(text: str) -> int:
    """An upper bound of the length Mastodon (and servers that count every character) give `text`.

    Code points, except that a link counts at least `URL_CHARS`; a mention's domain, which Mastodon
    does not count, is counted.
    """
    extra = sum(max(0, URL_CHARS - len(m.group())) for m in _URL.finditer(text))
    return len(text) + extra


def pack_lines(lines: Iterable[str], *, max_chars: int = MASTODON_MAX_CHARS, prefix: str = "") -> list[str]:
    """Join lines into as few messages as fit `max_chars` with `prefix` before each; lines stay whole.

    A single line longer than the budget is cut at a word boundary rather than dropped.
    """
    budget = max_chars - status_length(prefix)
    if budget < URL_CHARS:
        raise ValueError(f"max_chars={max_chars} leaves {budget} characters after the prefix")
    messages: list[str] = []
    current = ""
    for line in lines:
        whole, limit = line, budget
        while status_length(line) > budget:
            line = cut(whole, limit)
            limit -= max(1, status_length(line) - budget)
        joined = f"{current}\n{line}" if current else line
        if current and status_length(joined) > budget:
            messages.append(current)
            joined = line
        current = joined
    if current:
        messages.append(current)
    return messages


def cut(text: str, limit: int) -> str:
    """`text` with whitespace collapsed, cut to at most `limit` characters at a word boundary with '…'."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:.-") + "…"


def quiet(text: str) -> str:
    """`text` with every would-be mention defused, so quoting a post never adds DM recipients."""
    return _MENTION.sub("@\u200b", text)


def reason_note(reason: str | None) -> str:
    """A moderator's reason as a reply shows it after what was done: " (reason)", defused; "" for none."""
    return f" ({quiet(reason)})" if reason else ""


def _reason_line(reason: ReasonLike | str, limit: int | None) -> str:
    text = reason if isinstance(reason, str) else f"{reason.rule}: {reason.detail}"
    return quiet(cut(text, limit if limit is not None else len(text) + 1))


def _rule_names(reasons: Sequence[ReasonLike | str]) -> str:
    return ", ".join(quiet(cut(r if isinstance(r, str) else r.rule, 40)) for r in reasons) or "none given"


def _hold_variants(post: HeldPost) -> Iterator[str]:
    sid = post.short_id
    author = quiet(post.author.strip().removeprefix("@")) if post.author else None
    url = post.url.strip() if post.url else None
    hint_long = f"Reply `approve` or `reject [reason]`, or send `approve {sid}` or `reject {sid} [reason]`."
    hint = f"Reply `approve` or `reject [reason]`, or send `approve {sid}`."
    hint_short = f"Send `approve {sid}`, `reject {sid} [reason]` or `why {sid}`."
    reasons = post.reasons

    def render(excerpt: int, detail: int | None, *, hint: str, who: bool = True, link: bool = True) -> str:
        lines = [f"Held for review: {sid}"]
        if author and who:
            lines.append(f"by {author}")
        if url and link:
            lines.append(url)
        if excerpt and (body := cut(post.text, excerpt)):
            lines.append(f"“{quiet(body)}”")
        if detail == 0 or not reasons:
            lines.append(f"Why: {_rule_names(reasons)}")
        else:
            lines.append("Why:")
            lines.extend(f"- {_reason_line(r, detail)}" for r in reasons)
        lines.append(hint)
        return "\n".join(lines)

    yield render(200, None, hint=hint_long)
    for excerpt in (200, 120, 60, 0):
        yield render(excerpt, None, hint=hint)
    for detail in (120, 60, 0):
        yield render(60, detail, hint=hint)
        yield render(0, detail, hint=hint)
    yield render(0, 0, hint=hint_short)
    yield render(0, 0, hint=hint_short, who=False)
    yield render(0, 0, hint=hint_short, who=False, link=False)
    yield f"Held for review: {sid} ({len(reasons)} reasons)\n{hint_short}"
    yield f"Held {sid}: send `why {sid}`."


def hold_notice(post: HeldPost, *, max_chars: int = MASTODON_MAX_CHARS, prefix: str = "") -> str:
    """The DM text telling moderators that `post` is held, fitting `max_chars` with `prefix` before it.

    `prefix` is what the caller puts in front (the moderators' mentions). The notice names the short
    id, the author, the link, the start of the text (cut at a word boundary) and every reason, and
    says how to answer; when it does not fit, the excerpt goes first, then the reasons' details, the
    author and the link; the short id always stays whole. Raises ValueError if even that can't fit.
    """
    budget = max_chars - status_length(prefix)
    for text in _hold_variants(post):
        if status_length(text) <= budget:
            return text
    raise ValueError(f"max_chars={max_chars} leaves no room for a hold notice about {post.short_id}")


def _digest_blocks(post: HeldPost) -> Iterator[str]:
    sid = post.short_id
    author = quiet(post.author.strip().removeprefix("@")) if post.author else ""
    url = post.url.strip() if post.url else ""
    why = f"  why: {_rule_names(post.reasons)}"
    excerpt = cut(post.text, 80)
    quote = f"\n  “{quiet(excerpt)}”" if excerpt else ""
    yield f"{' '.join(filter(None, (sid, author, url)))}\n{why}{quote}"
    yield f"{' '.join(filter(None, (sid, author, url)))}\n{why}"
    yield f"{' '.join(filter(None, (sid, url)))}\n{why}"
    yield f"{sid}\n{why}"
    for limit in (80, 40):
        yield f"{sid} why: {cut(_rule_names(post.reasons), limit)}"
    yield sid


def digest_notice(
    items: Sequence[HeldPost], *, max_chars: int = MASTODON_MAX_CHARS, prefix: str = ""
) -> list[str]:
    """One DM (or several, each fitting `max_chars` with `prefix`) listing many held posts at once.

    Each message has a header ("3 posts wait for review (1/2):"), one block per post (short id,
    author, link, rule names, start of the text) and how to answer. Excerpts are left out when that
    saves a message; a block too big for a message alone loses its author and link, then its rule
    names are cut. A short id is never cut. No items, no messages.
    """
    if not items:
        return []
    n = len(items)
    footer = "Send `approve ID…`, `reject ID [reason]` or `why ID`."
    widest_header = f"{n} posts wait for review ({n}/{n}):"
    budget = max_chars - status_length(prefix) - status_length(widest_header) - status_length(footer) - 2
    variants = [list(_digest_blocks(item)) for item in items]

    def blocks(richest: int) -> list[str]:
        picked = []
        for item, options in zip(items, variants, strict=True):
            block = next((b for b in options[richest:] if status_length(b) <= budget), None)
            if block is None:
                raise ValueError(f"max_chars={max_chars} leaves no room for {item.short_id} in a digest")
            picked.append(block)
        return picked

    with_excerpts, without = _pack(blocks(0), budget), _pack(blocks(1), budget)
    chunks = with_excerpts if len(with_excerpts) <= len(without) else without
    total = len(chunks)
    noun = "post waits" if n == 1 else "posts wait"
    return [
        "\n".join([f"{n} {noun} for review" + (f" ({i}/{total}):" if total > 1 else ":"), *blocks, footer])
        for i, blocks in enumerate(chunks, 1)
    ]


def _pack(blocks: Sequence[str], budget: int) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    for block in blocks:
        current = chunks[-1]
        if current and status_length("\n".join([*current, block])) > budget:
            chunks.append([block])
        else:
            current.append(block)
    return chunks


# -- addressing and packing ------------------------------------------------------------------------


def mention_prefix(handles: Iterable[str]) -> str:
    """`@a@x @b@y ` for the start of a DM to these accounts."""
    mentions = " ".join(f"@{h.removeprefix('@')}" for h in handles)
    return f"{mentions} " if mentions else ""


def announcement(posts: Sequence[HeldPost], moderators: Sequence[str]) -> list[str]:
    """The DM(s) announcing `posts` to `moderators`: one hold notice, or a digest of several."""
    prefix = mention_prefix(moderators)
    if len(posts) == 1:
        return [prefix + hold_notice(posts[0], prefix=prefix)]
    return [prefix + text for text in digest_notice(posts, prefix=prefix)]


def replies(acct: str, lines: Sequence[str], *, max_chars: int = MASTODON_MAX_CHARS) -> list[str]:
    """`lines` as DMs to `acct`, as few as fit, each starting with the mention."""
    prefix = mention_prefix([acct])
    return [prefix + text for text in pack_lines(lines, max_chars=max_chars, prefix=prefix)]


def command_failed(command: str) -> str:
    """The answer when a command raised: the moderator learns it failed, the log says why."""
    return f"`{command}` failed on my side; the relay's log says why."


def boosted(name: str) -> str:
    """The confirmation that a post a moderator asked for was boosted."""
    return f"Boosted {name}."


def boost_failed(name: str, error: str | None) -> str:
    """The news that the booster gave up on a post a moderator asked for."""
    return f"Could not boost {name}: {error}."
