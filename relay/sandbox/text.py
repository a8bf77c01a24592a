"""Status text as Mastodon handles it: hashtags and mentions found, HTML rendered, tags normalised.

Pure functions, no I/O. The HTML matches what Mastodon 4.6 produces for plain-text posts (see the
recorded fixtures): mention links wrapped in an ``h-card`` span, hashtag links with
``class="mention hashtag" rel="tag"``, paragraphs in ``<p>`` and line breaks as ``<br />``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

HASHTAG_RE = re.compile(r"(?<![=/\w#])#(\w*[^\W\d]\w*)")
MENTION_RE = re.compile(
    r"(?<![/\w@])@([a-zA-Z0-9_]+(?:[a-zA-Z0-9_.-]*[a-zA-Z0-9_])?)"
    r"(?:@([a-zA-Z0-9.-]*[a-zA-Z0-9](?::\d+)?))?"
)


@dataclass(frozen=True, slots=True)
class MentionRef:
    """A mention as written: ``@user`` (domain None) or ``@user@domain``."""

    username: str
    domain: str | None


@dataclass(frozen=True, slots=True)
class MentionLink:
    """A resolved mention: what the HTML links to."""

    username: str
    url: str


def normalize_tag(name: str) -> str:
    """Fold a hashtag the way Mastodon compares them: NFKC, lower case, ASCII-folded, word chars."""
    folded = unicodedata.normalize("NFKC", name.lstrip("#")).casefold()
    decomposed = unicodedata.normalize("NFKD", folded)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^\w]", "", unicodedata.normalize("NFKC", stripped))


def find_hashtags(text: str) -> list[str]:
    """Hashtags in order of first appearance, as written, one per normalised name."""
    seen: dict[str, str] = {}
    for match in HASHTAG_RE.finditer(text):
        seen.setdefault(normalize_tag(match.group(1)), match.group(1))
    return list(seen.values())


def find_mentions(text: str) -> list[MentionRef]:
    """Mentions in order of first appearance, without duplicates."""
    refs: list[MentionRef] = []
    for match in MENTION_RE.finditer(text):
        ref = MentionRef(match.group(1), match.group(2))
        if ref not in refs:
            refs.append(ref)
    return refs


def escape(text: str) -> str:
    """Escape HTML the way Rails does (``'`` becomes ``&#39;``)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def render_html(text: str, base_url: str, resolve: Callable[[MentionRef], MentionLink | None]) -> str:
    """Render plain status text to Mastodon's HTML, linking hashtags and resolvable mentions."""
    token_re = re.compile(f"{HASHTAG_RE.pattern}|{MENTION_RE.pattern}")
    paragraphs = [p for p in re.split(r"\n{2,}", text.strip("\n")) if p] or [""]
    rendered = []
    for paragraph in paragraphs:
        parts: list[str] = []
        last = 0
        for match in token_re.finditer(paragraph):
            parts.append(escape(paragraph[last : match.start()]))
            last = match.end()
            if match.group(1) is not None:
                tag = match.group(1)
                parts.append(
                    f'<a href="{base_url}/tags/{escape(tag.lower())}" class="mention hashtag" '
                    f'rel="tag">#<span>{escape(tag)}</span></a>'
                )
                continue
            link = resolve(MentionRef(match.group(2), match.group(3)))
            if link is None:
                parts.append(escape(match.group(0)))
            else:
                parts.append(
                    f'<span class="h-card" translate="no"><a href="{escape(link.url)}" '
                    f'class="u-url mention">@<span>{escape(link.username)}</span></a></span>'
                )
        parts.append(escape(paragraph[last:]))
        rendered.append("<p>" + "".join(parts).replace("\n", "<br />") + "</p>")
    return "".join(rendered)
