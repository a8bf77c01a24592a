"""A post as the relay sees it: made once from Mastodon JSON (or an RSS item), then frozen. Pure.

Past this module no code indexes into Mastodon dicts. A `Post` is keyed by its ActivityPub `uri`
(the same post seen on five instances has five ids and one uri). A boost arrives unwrapped: the
`Post` is the original, with `boosted_by` naming the account that boosted it, so that the relay never
re-boosts a boost but can still screen the original it carries.

`Author.acct` is always `user@domain`: Mastodon writes local accounts without a domain, so they get
the domain of the instance the post was seen on (`source`), or else the host of the account's URL.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import escape as html_escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from relay.tags import fold_text, hashtags_in_text, normalize_tag, parse_html

__all__ = [
    "Author",
    "DirectMessage",
    "MalformedStatus",
    "Media",
    "Post",
    "dm_text",
    "source_domain",
    "text_fingerprint",
]

VISIBILITIES = ("public", "unlisted", "private", "direct")


class MalformedStatus(ValueError):
    """A status (or RSS item) lacks a field the relay needs, or has it in the wrong shape."""


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
class Author:
    """The account that wrote a post, as far as the source told us."""

    acct: str  # user@domain, lower-case domain
    id: str = ""  # local to the source instance
    username: str = ""
    display_name: str = ""
    note_text: str = ""  # the bio as plain text
    fields: tuple[tuple[str, str], ...] = ()  # profile fields (name, value as plain text)
    profile_tags: frozenset[str] = frozenset()  # normalised hashtags in the bio and the fields
    bot: bool = False
    group: bool = False
    locked: bool = False
    created_at: datetime | None = None
    statuses_count: int | None = None
    indexable: bool | None = None  # None: the server did not say (older Mastodon, other software)
    noindex: bool | None = None
    uri: str = ""
    url: str = ""

    @property
    def domain(self) -> str:
        return self.acct.rpartition("@")[2]


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
    complete: bool = True

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
    def text_fingerprint(self) -> str:
        """A stable hash of the normalised text, for the "same text again" rule."""
        return text_fingerprint(self.match_text)

    @classmethod
    def from_status(cls, status: Mapping[str, Any], *, source: str) -> Post:
        """Build a Post from Mastodon status JSON seen on instance `source` (a host or URL)."""
        if not isinstance(status, Mapping):
            raise MalformedStatus(f"a status must be a JSON object, not {type(status).__name__}")
        reblog = status.get("reblog")
        if reblog is not None:
            if not isinstance(reblog, Mapping):
                raise MalformedStatus("status field 'reblog' must be an object or null")
            booster = _author(_field(status, "account", Mapping), source)
            return replace(cls.from_status(reblog, source=source), boosted_by=booster)
        author = _author(_field(status, "account", Mapping), source)
        if status.get("content") is None and isinstance(status.get("text"), str):
            # A DELETE response (delete and redraft) carries the source `text` instead of `content`.
            content = ""
            html = replace(parse_html(html_escape(status["text"])), text=status["text"])
        else:
            content = _field(status, "content", str)
            html = parse_html(content)
        raw_tags = status.get("tags")
        if isinstance(raw_tags, list):
            names = [t.get("name") if isinstance(t, Mapping) else None for t in raw_tags]
            if not all(isinstance(n, str) for n in names):
                raise MalformedStatus("status field 'tags' must be a list of objects with a 'name'")
            tags = frozenset(filter(None, (normalize_tag(str(n)) for n in names)))
            tags_from = "api"
        elif raw_tags is None:
            tags, tags_from = html.tags, "html"
        else:
            raise MalformedStatus("status field 'tags' must be a list")
        mentions = status.get("mentions")
        visibility = _field(status, "visibility", str)
        if visibility not in VISIBILITIES:
            raise MalformedStatus(f"status field 'visibility' is {visibility!r}, not one of {VISIBILITIES}")
        return cls(
            uri=_field(status, "uri", str),
            id=str(_field(status, "id", (str, int))),
            url=_optional(status, "url", str) or "",
            source=source_domain(source) or author.domain,
            author=author,
            created_at=_required_datetime(status, "created_at"),
            edited_at=_datetime(status, "edited_at"),
            visibility=visibility,
            in_reply_to_id=_optional_id(status, "in_reply_to_id"),
            in_reply_to_account_id=_optional_id(status, "in_reply_to_account_id"),
            language=_optional(status, "language", str) or None,
            sensitive=bool(_optional(status, "sensitive", bool)),
            spoiler_text=_optional(status, "spoiler_text", str) or "",
            content_html=content,
            text=html.text,
            tags=tags,
            tags_from=tags_from,
            mentions=len(mentions) if isinstance(mentions, list) else html.mentions,
            links=html.links,
            media=tuple(_media(m) for m in _optional(status, "media_attachments", list) or ()),
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
            created = parsedate_to_datetime(published)
        except (TypeError, ValueError):
            raise MalformedStatus(f"RSS item date {published!r} is not an RFC 822 date") from None
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        content = entry.get("summary") or entry.get("description") or ""
        html = parse_html(str(content))
        categories = [t.get("term") for t in entry.get("tags") or () if isinstance(t, Mapping)]
        tags = frozenset(filter(None, (normalize_tag(str(c).lstrip("#")) for c in categories if c)))
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
class DirectMessage:
    """A status that mentions the bot (a DM, or a public, unlisted or private mention), made once
    from a Mastodon `mention` notification as the home instance reports it.

    `acct` and `mentions` are full `user@domain` handles in lower case (a local account gets the
    home instance's domain). `text` is the plain text the sender wrote, one line per line: text
    quoted from another post (Mastodon's `quote-inline` fallback, `<blockquote>`, lines starting
    with `>`) is left out. There is deliberately no display name: nothing may match on it.
    """

    notification_id: str
    status_id: str  # local to the home instance: what a reply names as in_reply_to_id
    uri: str
    url: str
    acct: str
    account_uri: str
    sender_is_bot: bool
    visibility: str
    in_reply_to_id: str | None
    created_at: datetime
    edited_at: datetime | None
    text: str
    mentions: tuple[str, ...]
    quotes_post: bool  # the status quotes another post (Mastodon 4.4+ `quote`)

    @property
    def is_direct(self) -> bool:
        return self.visibility == "direct"

    @classmethod
    def from_notification(cls, notification: Mapping[str, Any], *, home: str) -> DirectMessage:
        """Build from a `mention` notification seen on the home instance `home` (a host or URL)."""
        if not isinstance(notification, Mapping):
            raise MalformedStatus("a notification must be a JSON object")
        kind = notification.get("type")
        if kind != "mention":
            raise MalformedStatus(f"notification type is {kind!r}, not 'mention'")
        status = _field(notification, "status", Mapping)
        return cls.from_status(status, home=home, notification_id=str(_field(notification, "id", (str, int))))

    @classmethod
    def from_status(cls, status: Mapping[str, Any], *, home: str, notification_id: str = "") -> DirectMessage:
        """Build from the status of a mention, as the home instance `home` renders it."""
        if not isinstance(status, Mapping):
            raise MalformedStatus(f"a status must be a JSON object, not {type(status).__name__}")
        if status.get("reblog") is not None:
            raise MalformedStatus("a boost is not a message")
        author = _author(_field(status, "account", Mapping), home)
        visibility = _field(status, "visibility", str)
        if visibility not in VISIBILITIES:
            raise MalformedStatus(f"status field 'visibility' is {visibility!r}, not one of {VISIBILITIES}")
        domain = source_domain(home) or author.domain
        mentions = []
        for item in _optional(status, "mentions", list) or ():
            if not isinstance(item, Mapping) or not isinstance(item.get("acct"), str):
                raise MalformedStatus("status field 'mentions' must be a list of objects with an 'acct'")
            acct = item["acct"].strip().lstrip("@").lower()
            mentions.append(acct if "@" in acct else f"{acct}@{domain}")
        return cls(
            notification_id=notification_id,
            status_id=str(_field(status, "id", (str, int))),
            uri=_field(status, "uri", str),
            url=_optional(status, "url", str) or "",
            acct=author.acct.lower(),
            account_uri=author.uri,
            sender_is_bot=author.bot,
            visibility=visibility,
            in_reply_to_id=_optional_id(status, "in_reply_to_id"),
            created_at=_required_datetime(status, "created_at"),
            edited_at=_datetime(status, "edited_at"),
            text=dm_text(_optional(status, "content", str) or ""),
            mentions=tuple(mentions),
            quotes_post=status.get("quote") is not None or status.get("quote_id") is not None,
        )


_VOID = frozenset({"br", "img", "hr", "wbr", "input", "meta", "link", "source"})


class _DmText(HTMLParser):
    """Plain text of a status, one line per line, without quote-inline or blockquote content."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0  # depth inside an element whose text is quoted from elsewhere

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip:
            self._skip += tag not in _VOID
            return
        classes = (dict(attrs).get("class") or "").split()
        if tag == "blockquote" or "quote-inline" in classes:
            self._skip = 0 if tag in _VOID else 1
        elif tag == "br" or tag == "p":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            self._skip -= tag not in _VOID
        elif tag == "p":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def dm_text(html: str) -> str:
    """The lines the sender wrote in a status's HTML: quotes (quote-inline, blockquote, `>`) left out."""
    parser = _DmText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line and not line.startswith(">"))


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


def source_domain(source: str) -> str:
    """The host[:port] of `source` (a host or a URL), lower case; "" when it names none."""
    if "://" in source:
        return urlsplit(source).netloc.lower()
    host = source.strip().lower()
    return host if re.fullmatch(r"[a-z0-9.-]+(?::\d+)?", host) else ""


def text_fingerprint(text: str) -> str:
    """Hex SHA-256 of the folded words of `text`, ignoring @mentions, case, accents and spacing."""
    words = [w for w in re.findall(r"[@\w][\w.@-]*", fold_text(text)) if not w.startswith("@")]
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()[:32]


def _field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in data or data[name] is None:
        raise MalformedStatus(f"status is missing field {name!r}")
    value = data[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MalformedStatus(f"status field {name!r} has the wrong type ({type(value).__name__})")
    return value


def _optional(data: Mapping[str, Any], name: str, kind: type) -> Any:
    return None if data.get(name) is None else _field(data, name, kind)


def _optional_id(data: Mapping[str, Any], name: str) -> str | None:
    value = _optional(data, name, (str, int))  # type: ignore[arg-type]
    return None if value is None else str(value)


def _datetime(data: Mapping[str, Any], name: str, *, required: bool = False) -> datetime | None:
    value = _field(data, name, str) if required else _optional(data, name, str)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedStatus(f"status field {name!r} is not an ISO 8601 date: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _required_datetime(data: Mapping[str, Any], name: str) -> datetime:
    value = _datetime(data, name, required=True)
    assert value is not None  # required=True raises instead of returning None
    return value


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


def _author(account: Mapping[str, Any], source: str) -> Author:
    try:
        acct = _field(account, "acct", str).strip().lstrip("@")
        url = _optional(account, "url", str) or ""
        uri = _optional(account, "uri", str) or ""
        if "@" in acct:
            user, _, domain = acct.partition("@")
        else:
            user = acct
            domain = source_domain(source) or urlsplit(url).netloc or urlsplit(uri).netloc
            if not domain:
                raise MalformedStatus(f"account {acct!r} is local but the instance domain is unknown")
        note = parse_html(_optional(account, "note", str) or "")
        fields = []
        tags = set(note.tags)
        for item in _optional(account, "fields", list) or ():
            if not isinstance(item, Mapping):
                raise MalformedStatus("account field 'fields' must be a list of objects")
            value = parse_html(str(item.get("value") or ""))
            name = str(item.get("name") or "")
            fields.append((name, value.text))
            tags |= value.tags | hashtags_in_text(name)
        statuses = _optional(account, "statuses_count", int)
        return Author(
            acct=f"{user}@{domain.lower()}",
            id=str(_optional(account, "id", (str, int)) or ""),  # type: ignore[arg-type]
            username=_optional(account, "username", str) or user,
            display_name=_optional(account, "display_name", str) or "",
            note_text=note.text,
            fields=tuple(fields),
            profile_tags=frozenset(tags),
            bot=bool(_optional(account, "bot", bool)),
            group=bool(_optional(account, "group", bool)),
            locked=bool(_optional(account, "locked", bool)),
            created_at=_datetime(account, "created_at"),
            statuses_count=statuses,
            indexable=_optional(account, "indexable", bool),
            noindex=_optional(account, "noindex", bool),
            uri=uri,
            url=url,
        )
    except MalformedStatus as exc:
        raise MalformedStatus(str(exc).replace("status", "account", 1)) from None
