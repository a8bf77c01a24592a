"""A post as the relay sees it: made once from Mastodon JSON (or an RSS item), then frozen. Pure.

Past this module no code indexes into Mastodon dicts. A `Post` is keyed by its ActivityPub `uri`
(the same post seen on five instances has five ids and one uri). A boost arrives unwrapped: the
`Post` is the original, with `boosted_by` naming the account that boosted it, so that the relay never
re-boosts a boost but can still screen the original it carries.

The bot's mentions are read likewise in `relay.core.dm`, and the field readers, `Author` and
`MalformedStatus` that both use are in `relay.core.mastodon_json`.

`Author.acct` is always `user@domain`: Mastodon writes local accounts without a domain, so they get
the domain of the instance the post was seen on (`source`), or else the host of the account's URL.

A quote post (Mastodon 4.5+, API version 7) carries `quote: {state, quoted_status}`: the `Quote`,
whose `quoted` is the quoted status read as a `Post` in turn. Nested one level down (the quoted
status's own quote) Mastodon sends a ShallowQuote, `{state, quoted_status_id}`: a `Quote` with the
id only. Servers before 4.4 send no `quote` (None); Pleroma, Akkoma and Fedibird put the quoted
status itself in `quote`, with no state and no consent behind it: read as an accepted quote, so
that every screening rule still applies to what it quotes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from html import escape as html_escape
from typing import Any
from urllib.parse import urlsplit

from relay.core.ids import parse_time
from relay.core.mastodon_json import (
    Author,
    MalformedStatus,
    get_datetime,
    get_field,
    get_optional,
    get_optional_id,
    get_required_datetime,
    get_visibility,
    read_author,
    source_domain,
)
from relay.core.tags import fold_text, normalize_tag, parse_html

__all__ = ["QUOTE_STATES", "Media", "Post", "Quote", "quote_progress", "text_fingerprint"]

# Mastodon's quote states (the Quote entity): only "accepted" may be shown; "blocked_account",
# "blocked_domain" and "muted_account" are the viewer's own filters on an accepted quote. Mastodon's
# docs: "Unknown values should be treated as `unauthorized`".
QUOTE_STATES = (
    "pending",
    "accepted",
    "rejected",
    "revoked",
    "deleted",
    "unauthorized",
    "blocked_account",
    "blocked_domain",
    "muted_account",
)


@dataclass(frozen=True, slots=True)
class Media:
    """One attachment; `description` is its alt text ("" when there is none)."""

    type: str
    url: str
    description: str = ""

    @property
    def has_alt(self) -> bool:
        return bool(self.description.strip())


@dataclass(frozen=True, slots=True)
class Post:
    """One status, normalised. `complete` is False when the source (RSS) left out what the API says."""

    uri: str  # ActivityPub id: the key
    id: str  # local to `source`
    url: str
    source: str  # the instance (host) the post was seen on
    author: Author
    created_at: datetime
    visibility: str
    content_html: str
    text: str  # content as plain text, without the content warning
    tags: frozenset[str]  # normalised hashtags
    tags_from: str = "api"  # "api" (the status's `tags`), "html" (content fallback) or "rss"
    edited_at: datetime | None = None
    in_reply_to_id: str | None = None
    in_reply_to_account_id: str | None = None
    language: str | None = None
    sensitive: bool = False
    spoiler_text: str = ""
    mentions: int = 0
    links: int = 0
    media: tuple[Media, ...] = ()
    boosted_by: Author | None = None  # set when the post came as a boost (the original is screened)
    quote: Quote | None = None  # what the post quotes (None: not a quote, or a server before 4.4)
    complete: bool = True
    # `folded_text`, once read: not an argument, not compared, and reset by `dataclasses.replace`.
    _folded_text: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def key(self) -> str:
        """The dedupe key: the ActivityPub uri."""
        return self.uri

    @property
    def is_reply(self) -> bool:
        return self.in_reply_to_id is not None

    @property
    def came_as_boost(self) -> bool:
        return self.boosted_by is not None

    @property
    def match_text(self) -> str:
        """What text rules match on: the content warning, then the plain text."""
        return f"{self.spoiler_text}\n{self.text}" if self.spoiler_text else self.text

    @property
    def folded_text(self) -> str:
        """`match_text` folded for case- and accent-insensitive matching (`fold_text`): folded once,
        for the fingerprint and the keyword rules both."""
        folded = self._folded_text
        if folded is None:
            folded = fold_text(self.match_text)
            object.__setattr__(self, "_folded_text", folded)  # a cache: the post stays as it was made
        return folded

    @property
    def text_fingerprint(self) -> str:
        """A stable hash of the normalised text, for the "same text again" rule; a quote's counts
        what it quotes too ("Worth reading" over two different posts is not the same post)."""
        quote = self.quote
        what = None if quote is None else quote.quoted.uri if quote.quoted is not None else quote.quoted_id
        return _fingerprint(self.folded_text if what is None else f"{self.folded_text} {what}")

    @classmethod
    def from_status(cls, status: Mapping[str, Any], *, source: str) -> Post:
        """Build a Post from Mastodon status JSON seen on instance `source` (a host or URL)."""
        if not isinstance(status, Mapping):
            raise MalformedStatus(f"a status must be a JSON object, not {type(status).__name__}")
        reblog = status.get("reblog")
        if reblog is not None:
            if not isinstance(reblog, Mapping):
                raise MalformedStatus("status field 'reblog' must be an object or null")
            booster = read_author(get_field(status, "account", Mapping), source)
            return replace(cls.from_status(reblog, source=source), boosted_by=booster)
        author = read_author(get_field(status, "account", Mapping), source)
        if status.get("content") is None and isinstance(status.get("text"), str):
            # A DELETE response (delete and redraft) carries the source `text` instead of `content`.
            content = ""
            html = replace(parse_html(html_escape(status["text"])), text=status["text"])
        else:
            content = get_field(status, "content", str)
            html = parse_html(content)
        raw_tags = status.get("tags")
        if isinstance(raw_tags, list):
            names = [t.get("name") if isinstance(t, Mapping) else None for t in raw_tags]
            if not all(isinstance(n, str) for n in names):
                raise MalformedStatus("status field 'tags' must be a list of objects with a 'name'")
            tags = frozenset(filter(None, map(normalize_tag, map(str, names))))
            tags_from = "api"
        elif raw_tags is None:
            tags, tags_from = html.tags, "html"
        else:
            raise MalformedStatus("status field 'tags' must be a list")
        mentions = status.get("mentions")
        visibility = get_visibility(status)
        return cls(
            uri=get_field(status, "uri", str),
            id=str(get_field(status, "id", (str, int))),
            url=get_optional(status, "url", str) or "",
            source=source_domain(source) or author.domain,
            author=author,
            created_at=get_required_datetime(status, "created_at"),
            edited_at=get_datetime(status, "edited_at"),
            visibility=visibility,
            in_reply_to_id=get_optional_id(status, "in_reply_to_id"),
            in_reply_to_account_id=get_optional_id(status, "in_reply_to_account_id"),
            language=get_optional(status, "language", str) or None,
            sensitive=bool(get_optional(status, "sensitive", bool)),
            spoiler_text=get_optional(status, "spoiler_text", str) or "",
            content_html=content,
            text=html.text,
            tags=tags,
            tags_from=tags_from,
            mentions=len(mentions) if isinstance(mentions, list) else html.mentions,
            links=html.links,
            media=tuple(map(_media, get_optional(status, "media_attachments", list) or ())),
            quote=_quote(status.get("quote"), source),
        )

    @classmethod
    def from_rss_entry(cls, entry: Mapping[str, Any], *, source: str) -> Post:
        """Build an incomplete Post from a feedparser entry of Mastodon's `/tags/NAME.rss`.

        The feed gives the post URL, date, HTML, media (with alt text and an adult/nonadult rating)
        and the hashtags (`<category>`), and nothing else. Missing, hence unknown until the post is
        resolved through the API: the ActivityPub uri (the URL stands in as the key), the id,
        visibility (the feed lists public posts only), whether it is a reply, language, content
        warning, edits, and the whole author profile (bio and #nobot, bot, group, age, counts,
        indexable). `complete=False` tells the screen to hold such a post rather than trust it.
        """
        link = entry.get("link") or entry.get("id")
        if not isinstance(link, str) or not link:
            raise MalformedStatus("RSS item has no 'link'")
        parts = urlsplit(link)
        if not parts.netloc:
            raise MalformedStatus(f"RSS item link {link!r} is not a URL")
        published = entry.get("published")
        if not isinstance(published, str):
            raise MalformedStatus("RSS item has no 'published' date")
        try:
            created = parse_time(parsedate_to_datetime(published))  # "-0000" (no zone): UTC
        except (TypeError, ValueError):
            created = None
        if created is None:
            raise MalformedStatus(f"RSS item date {published!r} is not an RFC 822 date")
        content = entry.get("summary") or entry.get("description") or ""
        html = parse_html(str(content))
        categories = [t.get("term") for t in entry.get("tags") or () if isinstance(t, Mapping)]
        tags = frozenset(filter(None, (normalize_tag(str(c)) for c in categories if c)))
        ratings = [r.get("content") for r in _as_list(entry.get("media_rating")) if isinstance(r, Mapping)]
        return cls(
            uri=link,
            id=parts.path.rstrip("/").rpartition("/")[2],
            url=link,
            source=source_domain(source) or parts.netloc.lower(),
            author=_rss_author(link),
            created_at=created,
            visibility="public",
            content_html=str(content),
            text=html.text,
            tags=tags or html.tags,
            tags_from="rss",
            sensitive="adult" in ratings,
            mentions=html.mentions,
            links=html.links,
            media=_rss_media(entry),
            complete=False,
        )


@dataclass(frozen=True, slots=True)
class Quote:
    """What a status quotes: the quote's `state` (one of `QUOTE_STATES`) and the quoted status.

    `quoted` is None when the server did not show the quoted status: a state other than accepted,
    a ShallowQuote (only `quoted_id`), or a quoted status too malformed to read.
    """

    state: str
    quoted: Post | None = None
    quoted_id: str | None = None  # the quoted status's id on the source instance, when known

    @property
    def progress(self) -> int:
        """How far the quote has moved: 0 pending, 1 accepted, 2 any state after (refused, revoked,
        the quoted post deleted, or hidden from the viewer). Mastodon only moves a quote forward
        (pending → accepted → revoked, pending → rejected), so a copy of the same version with a
        lower `progress` is stale (`relay.core.dedupe`)."""
        return quote_progress(self.state)


def quote_progress(state: str | None) -> int:
    """`Quote.progress` of a quote `state` (None, no quote: 0)."""
    return 0 if state in (None, "pending") else 1 if state == "accepted" else 2


def _quote(raw: object, source: str) -> Quote | None:
    """The `Quote` of a status's `quote` field (see the module's docstring for its shapes)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise MalformedStatus("status field 'quote' must be an object or null")
    if "state" not in raw and "account" in raw:  # Pleroma, Akkoma, Fedibird: the quoted status itself
        raw = {"state": "accepted", "quoted_status": raw}
    state = raw.get("state")
    if not isinstance(state, str):
        raise MalformedStatus("status field 'quote' must have a 'state' string")
    if state not in QUOTE_STATES:
        state = "unauthorized"
    quoted_id = get_optional_id(raw, "quoted_status_id")
    nested = raw.get("quoted_status")
    quoted = None
    if isinstance(nested, Mapping):
        try:
            quoted = Post.from_status(nested, source=source)
        except MalformedStatus:
            quoted = None  # screened as a quote of an unknown post: held for a moderator
        else:
            quoted_id = quoted.id
    return Quote(state=state, quoted=quoted, quoted_id=quoted_id)


def _rss_author(link: str) -> Author:
    """The author a post URL names: `/@user/ID`, `/@user@domain/ID` or `/users/user/statuses/ID`.

    Any other URL shape (other fediverse software) leaves the user unknown: `unknown@host`.
    """
    parts = urlsplit(link)
    host = parts.netloc.lower()
    path = parts.path
    match = re.match(r"^/@([^/@]+)(?:@([^/]+))?/", path) or re.match(r"^/users/([^/]+)/statuses/", path)
    if not match:
        return Author(acct=f"unknown@{host}")
    user = match.group(1)
    domain = (match.group(2) if match.lastindex == 2 and match.group(2) else host).lower()
    url = f"{parts.scheme}://{parts.netloc}/@{user}" if domain == host else ""
    return Author(acct=f"{user}@{domain}", username=user, url=url)


def _rss_media(entry: Mapping[str, Any]) -> tuple[Media, ...]:
    """Media of an RSS item. feedparser puts every `media:description` in `content` as text/plain,
    without saying which attachment it belongs to: they are paired in order only when every
    attachment has one (Mastodon omits the element when there is no alt text)."""
    items = [m for m in entry.get("media_content") or () if isinstance(m, Mapping)]
    alts = [
        str(c.get("value") or "")
        for c in entry.get("content") or ()
        if isinstance(c, Mapping) and c.get("type") == "text/plain"
    ]
    if len(alts) != len(items):
        alts = [""] * len(items)
    return tuple(
        Media(type=str(m.get("medium") or m.get("type") or ""), url=str(m.get("url") or ""), description=alt)
        for m, alt in zip(items, alts, strict=True)
    )


def text_fingerprint(text: str) -> str:
    """Hex SHA-256 of the folded words of `text`, ignoring @mentions, case, accents and spacing."""
    return _fingerprint(fold_text(text))


_WORD = re.compile(r"[@\w][\w.@-]*")


def _fingerprint(folded: str) -> str:
    """`text_fingerprint` of text already folded."""
    words = [w for w in _WORD.findall(folded) if not w.startswith("@")]
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()[:32]


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _media(item: object) -> Media:
    if not isinstance(item, Mapping):
        raise MalformedStatus("status field 'media_attachments' must be a list of objects")
    return Media(
        type=str(item.get("type") or "unknown"),
        url=str(item.get("url") or item.get("remote_url") or ""),
        description=str(item.get("description") or ""),
    )
