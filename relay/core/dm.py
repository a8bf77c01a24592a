"""A mention of the bot as the moderation channel sees it: made once from a Mastodon `mention`
notification, then frozen. Pure. `dm_text` is the plain text the sender wrote, quotes left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from relay.core.accounts import AccountId, full_acct, norm_acct
from relay.core.mastodon_json import (
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

__all__ = ["DirectMessage", "dm_text"]


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
    account_uri: str  # "" where the server gives none (GoToSocial)
    account_id: str  # the home instance's id of the sender's account
    sender_is_bot: bool
    visibility: str
    in_reply_to_id: str | None
    created_at: datetime
    edited_at: datetime | None
    text: str
    mentions: tuple[str, ...]
    quotes_post: bool  # the status quotes another post (Mastodon 4.4+ `quote`)

    @property
    def sender(self) -> AccountId:
        """The sender's account as the home instance identifies it."""
        return AccountId(self.account_uri, self.account_id)

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
        status = get_field(notification, "status", Mapping)
        return cls.from_status(
            status, home=home, notification_id=str(get_field(notification, "id", (str, int)))
        )

    @classmethod
    def from_status(cls, status: Mapping[str, Any], *, home: str, notification_id: str = "") -> DirectMessage:
        """Build from the status of a mention, as the home instance `home` renders it."""
        if not isinstance(status, Mapping):
            raise MalformedStatus(f"a status must be a JSON object, not {type(status).__name__}")
        if status.get("reblog") is not None:
            raise MalformedStatus("a boost is not a message")
        author = read_author(get_field(status, "account", Mapping), home)
        visibility = get_visibility(status)
        domain = source_domain(home) or author.domain
        mentions = []
        for item in get_optional(status, "mentions", list) or ():
            if not isinstance(item, Mapping) or not isinstance(item.get("acct"), str):
                raise MalformedStatus("status field 'mentions' must be a list of objects with an 'acct'")
            mentions.append(full_acct(item["acct"], domain))
        return cls(
            notification_id=notification_id,
            status_id=str(get_field(status, "id", (str, int))),
            uri=get_field(status, "uri", str),
            url=get_optional(status, "url", str) or "",
            acct=norm_acct(author.acct),
            account_uri=author.uri,
            account_id=author.id,
            sender_is_bot=author.bot,
            visibility=visibility,
            in_reply_to_id=get_optional_id(status, "in_reply_to_id"),
            created_at=get_required_datetime(status, "created_at"),
            edited_at=get_datetime(status, "edited_at"),
            text=dm_text(get_optional(status, "content", str) or ""),
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
