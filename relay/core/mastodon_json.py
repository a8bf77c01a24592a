"""Reading Mastodon JSON, shared by `relay.core.post` (Post) and `relay.core.dm` (DirectMessage). Pure.

`MalformedStatus` for anything missing or mis-typed; the typed field readers (`get_field`,
`get_optional`, `get_datetime`, ...), each naming the field in its error; and the account that
wrote a status, as an `Author` with a full `user@domain` handle (`read_author`), its bio and
profile fields read once per distinct text (`read_profile`, a bounded cache).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from relay.core.accounts import bare_acct
from relay.core.ids import parse_time
from relay.core.tags import hashtags_in_text, parse_html

__all__ = [
    "STATUS_VISIBILITIES",
    "Author",
    "MalformedStatus",
    "Profile",
    "get_datetime",
    "get_field",
    "get_optional",
    "get_optional_id",
    "get_required_datetime",
    "get_visibility",
    "read_author",
    "read_profile",
    "source_domain",
]

STATUS_VISIBILITIES = ("public", "unlisted", "private", "direct")  # every visibility a status has


class MalformedStatus(ValueError):
    """A status (or RSS item) lacks a field the relay needs, or has it in the wrong shape."""


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


@functools.lru_cache(maxsize=256)
def source_domain(source: str) -> str:
    """The host[:port] of `source` (a host or a URL), lower case; "" when it names none.

    Cached: a relay reads a handful of instances, and every post and account names one of them."""
    if "://" in source:
        return urlsplit(source).netloc.lower()
    host = source.strip().lower()
    return host if re.fullmatch(r"[a-z0-9.-]+(?::\d+)?", host) else ""


def get_field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """`data[name]`, which must be there, not null, and of `kind` (a bool is no int here)."""
    value = data.get(name)
    if type(value) is kind:  # the usual case, checked first: exactly the type asked for
        return value
    if value is None:
        raise MalformedStatus(f"status is missing field {name!r}")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MalformedStatus(f"status field {name!r} has the wrong type ({type(value).__name__})")
    return value


def get_visibility(status: Mapping[str, Any]) -> str:
    """The status's `visibility`, one of `STATUS_VISIBILITIES` (MalformedStatus for anything else)."""
    visibility: str = get_field(status, "visibility", str)
    if visibility not in STATUS_VISIBILITIES:
        raise MalformedStatus(
            f"status field 'visibility' is {visibility!r}, not one of {STATUS_VISIBILITIES}"
        )
    return visibility


def get_optional(data: Mapping[str, Any], name: str, kind: type) -> Any:
    """`data[name]` if present and not null (then of `kind`), else None."""
    value = data.get(name)
    return value if value is None or type(value) is kind else get_field(data, name, kind)


def get_optional_id(data: Mapping[str, Any], name: str) -> str | None:
    """An optional id (a string, or a number from older servers) as a string."""
    value = data.get(name)
    if value is None or type(value) is str:
        return value
    return str(get_field(data, name, (str, int)))


def get_datetime(data: Mapping[str, Any], name: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 date, timezone-aware (UTC when it names no zone); None when absent and optional."""
    value = data.get(name)
    if type(value) is not str:
        value = get_field(data, name, str) if required else get_optional(data, name, str)
        if value is None:
            return None
    parsed = parse_time(value)
    if parsed is None:
        raise MalformedStatus(f"status field {name!r} is not an ISO 8601 date: {value!r}")
    return parsed


def get_required_datetime(data: Mapping[str, Any], name: str) -> datetime:
    """`get_datetime(..., required=True)`, typed as never None."""
    value = get_datetime(data, name, required=True)
    assert value is not None  # required=True raises instead of returning None
    return value


@dataclass(frozen=True, slots=True)
class Profile:
    """What screening needs from an account's bio (`note`) and profile fields, both HTML."""

    note_text: str  # the bio as plain text
    fields: tuple[tuple[str, str], ...]  # (name, value as plain text)
    tags: frozenset[str]  # normalised hashtags in the bio, the field values and the field names


PROFILE_CACHE_SIZE = 4096
"""Profiles `read_profile` keeps, most recently used first: about one per active author."""


@functools.lru_cache(maxsize=PROFILE_CACHE_SIZE)
def read_profile(note_html: str, fields_html: tuple[tuple[str, str], ...]) -> Profile:
    """The `Profile` of a bio and of profile fields given as (name, value HTML).

    Cached by its input text: an author posts many times, the same account JSON arrives from
    every instance that delivers the post, and reading the HTML is most of reading an account. An
    edited bio or field is new text, hence a new entry; the least recently used ones are dropped.
    """
    note = parse_html(note_html)
    fields = []
    tags = set(note.tags)
    for name, value_html in fields_html:
        value = parse_html(value_html)
        fields.append((name, value.text))
        tags |= value.tags | hashtags_in_text(name)
    return Profile(note_text=note.text, fields=tuple(fields), tags=frozenset(tags))


def read_author(account: Mapping[str, Any], source: str) -> Author:
    """The `Author` of Mastodon account JSON seen on instance `source` (a host or URL).

    Mastodon writes local accounts without a domain: they get `source`'s, or else the host of the
    account's URL. Errors name the account field ("account is missing field 'acct'").
    """
    try:
        acct = bare_acct(get_field(account, "acct", str))
        url = get_optional(account, "url", str) or ""
        uri = get_optional(account, "uri", str) or ""
        if "@" in acct:
            user, _, domain = acct.partition("@")
        else:
            user = acct
            domain = source_domain(source) or urlsplit(url).netloc or urlsplit(uri).netloc
            if not domain:
                raise MalformedStatus(f"account {acct!r} is local but the instance domain is unknown")
        note_html = get_optional(account, "note", str) or ""
        fields_html = []
        for item in get_optional(account, "fields", list) or ():
            if not isinstance(item, Mapping):
                raise MalformedStatus("account field 'fields' must be a list of objects")
            fields_html.append((str(item.get("name") or ""), str(item.get("value") or "")))
        profile = read_profile(note_html, tuple(fields_html))
        statuses = get_optional(account, "statuses_count", int)
        return Author(
            acct=f"{user}@{domain.lower()}",
            id=str(get_optional(account, "id", (str, int)) or ""),  # type: ignore[arg-type]
            username=get_optional(account, "username", str) or user,
            display_name=get_optional(account, "display_name", str) or "",
            note_text=profile.note_text,
            fields=profile.fields,
            profile_tags=profile.tags,
            bot=bool(get_optional(account, "bot", bool)),
            group=bool(get_optional(account, "group", bool)),
            locked=bool(get_optional(account, "locked", bool)),
            created_at=get_datetime(account, "created_at"),
            statuses_count=statuses,
            indexable=get_optional(account, "indexable", bool),
            noindex=get_optional(account, "noindex", bool),
            uri=uri,
            url=url,
        )
    except MalformedStatus as exc:
        raise MalformedStatus(str(exc).replace("status", "account", 1)) from None
