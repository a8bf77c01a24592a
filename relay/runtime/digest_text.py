"""PURE the weekly digest's words: `DigestFacts` in, the statuses to post out, each within the
home instance's `max_characters`.

What a digest says: the period (local dates), how many posts were boosted, from how many people
and which servers (domains, with counts), and the new members of the directory, each mentioned so
that they see the welcome. Nobody else is named: the boosted posts' authors are counted, never
shown. A digest longer than one status becomes a thread of numbered parts, lines kept whole; every
part starts with the same header and its number, which is how the relay finds a part it posted
before a crash (`marker`).

No I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from relay.core.digest import DigestFacts
from relay.moderation.notices import MASTODON_MAX_CHARS, pack_lines

_NUMBER_ROOM = " (99/99)"  # the room a part number takes, for packing before the count is known


def header(facts: DigestFacts, hashtags: Sequence[str], zone: tzinfo) -> str:
    """The first line of every part: the hashtags and the period's local dates."""
    first, last = facts.period.local(zone)
    tags = " ".join(f"#{tag}" for tag in hashtags)
    if first.year == last.year:
        span = f"{first.day} {first:%b} – {last.day} {last:%b} {last.year}"
    else:
        span = f"{first.day} {first:%b} {first.year} – {last.day} {last:%b} {last.year}"
    if first == last:
        span = f"{last.day} {last:%b} {last.year}"
    return f"{tags} weekly digest, {span}"


def body_lines(facts: DigestFacts) -> list[str]:
    """The digest's lines after the header (empty when there is nothing to say)."""
    lines: list[str] = []
    posts = len(facts.boosted_authors)
    if posts:
        servers = facts.servers()
        lines.append(
            f"{_count(posts, 'post')} boosted, from {_count(facts.people, 'person', 'people')}"
            f" on {_count(len(servers), 'server')}:"
        )
        lines += [f"• {domain} ({n})" for domain, n in servers]
    if facts.new_members:
        if lines:
            lines.append("")
        lines.append("New in the directory, welcome!")
        lines += [f"@{acct.removeprefix('@')}" for acct in facts.new_members]
    return lines


def digest_parts(
    facts: DigestFacts, hashtags: Sequence[str], zone: tzinfo, *, max_chars: int = MASTODON_MAX_CHARS
) -> list[str]:
    """The statuses to post for `facts`, in order (a thread when more than one); [] when there is
    nothing to say."""
    if facts.nothing_to_say:
        return []
    head = header(facts, hashtags, zone)
    lines = body_lines(facts)
    whole = pack_lines(lines, max_chars=max_chars, prefix=f"{head}\n\n")
    if len(whole) == 1:
        return [f"{head}\n\n{whole[0]}"]
    bodies = pack_lines(lines, max_chars=max_chars, prefix=f"{head}{_NUMBER_ROOM}\n\n")
    return [f"{head} ({i}/{len(bodies)})\n\n{body.strip()}" for i, body in enumerate(bodies, start=1)]


def marker(part: str) -> str:
    """The line that identifies a part among the bot's statuses: its first, whitespace collapsed."""
    return " ".join(part.split("\n", 1)[0].split())


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"
