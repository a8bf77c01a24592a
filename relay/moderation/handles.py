"""PURE values that DM commands name, and how they are read from text: posts and accounts.

A post is named by its review-queue short id (`ShortId`, `h42`) or its URL (`PostUrl`): a `Ref`.
An account or a whole domain is a `Target`: `Account` (`user@domain`) or `Domain`. Each has one
canonical form, made by the `parse_*` functions, which raise `relay.errors.CommandError` with a
message fit to send back to a moderator:

- short ids look like `h42` (any case, `#h42` too, leading zeros dropped);
- URLs are `http(s)://` only, without trailing punctuation or `<...>`, scheme and host in lower case;
- handles are `user@domain`, lower case, without the leading `@`; a bare name is ambiguous across
  instances and refused;
- domains look like host names (non-ASCII becomes punycode); a port is allowed only on a loopback
  host (sandboxes: `alice@127.0.0.1:8123`), or in a URL.

`relay.moderation.grammar` (the DM grammar) uses these and re-exports the value types. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import urlsplit, urlunsplit

from relay.core.accounts import norm_acct, parse_host
from relay.errors import CommandError

MAX_URL = 2048
PUNCT = ".,;:!?"  # trailing punctuation that is not part of an id, URL, handle or domain


# -- values -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShortId:
    """A review-queue item by its short id, in canonical form (`h42`)."""

    id: str


@dataclass(frozen=True, slots=True)
class PostUrl:
    """A post by its URL (`https://example.social/@alice/1`), scheme and host in lower case."""

    url: str


Ref: TypeAlias = ShortId | PostUrl


@dataclass(frozen=True, slots=True)
class Account:
    """An account as `user@domain`, lower case, without the leading '@'."""

    handle: str


@dataclass(frozen=True, slots=True)
class Domain:
    """A whole domain (and its subdomains), lower case, punycode."""

    name: str


Target: TypeAlias = Account | Domain


# -- parsing ----------------------------------------------------------------------------------------

_ID = re.compile(r"#?h0*([0-9]{1,18})", re.IGNORECASE)
_ID_LIKE = re.compile(r"#?h[0-9]+", re.IGNORECASE)
_USER = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]{0,62}[a-z0-9_])?")


def maybe_ref(token: str) -> Ref | None:
    """A short id or URL; None for a word that is neither; CommandError for a broken id or URL."""
    bare = token.rstrip(PUNCT)
    if m := _ID.fullmatch(bare):
        return ShortId(f"h{int(m.group(1))}")
    if _ID_LIKE.fullmatch(bare):
        raise CommandError(f"got {show(token)}, which is not a valid id (ids look like h42)")
    if bare.lower().startswith(("http://", "https://", "<http://", "<https://")):
        return PostUrl(parse_url(token))
    return None


def parse_ref(token: str) -> Ref:
    """A short id or URL; CommandError for anything else."""
    ref = maybe_ref(token)
    if ref is None:
        raise CommandError(f"takes an id like h42 or a post URL, not {show(token)}")
    return ref


def parse_url(token: str) -> str:
    """An http(s) URL in canonical form (scheme and host in lower case); CommandError if it is not one."""
    text = token.removeprefix("<").rstrip(PUNCT + ")]}>'\"")
    bad = CommandError(f"got {show(token)}, which is not a usable http(s) URL")
    if len(text) > MAX_URL or re.search(r"[\x00-\x20\x7f-\x9f]", text):
        raise bad
    try:
        parts = urlsplit(text)
    except ValueError:
        raise bad from None
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc:
        raise bad
    host = parse_host(parts.netloc, any_port=True)
    if host is None:
        raise bad
    return urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=host))


def parse_handle(token: str) -> str:
    """`user@domain` in canonical form (lower case, no leading `@`); CommandError for anything else."""
    text = norm_acct(token).rstrip(PUNCT)
    user, at, domain = text.rpartition("@")
    if not at:
        raise CommandError(
            f"needs user@domain: {show(text)} alone is ambiguous (the same name exists on many instances)"
        )
    host = parse_host(domain)
    if not _USER.fullmatch(user) or host is None:
        raise CommandError(f"got {show(token)}, which is not an account like alice@example.social")
    return f"{user}@{host}"


def parse_target(token: str) -> Target:
    """An `Account` (user@domain) or a `Domain` (`*.` allowed); CommandError for a bare name."""
    text = token.strip().rstrip(PUNCT)
    if "@" in text.removeprefix("@"):
        return Account(parse_handle(text))
    host = parse_host(text.removeprefix("*."))
    if host is None:
        raise CommandError(
            f"needs user@domain or a domain like example.social; {show(text)} is neither"
            " (a bare name is ambiguous across instances)"
        )
    return Domain(host)


def show(text: str) -> str:
    """`text` quoted for an error message: control characters masked, at most 40 characters."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", text)
    return repr(text if len(text) <= 40 else text[:39] + "…")
