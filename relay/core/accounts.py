"""PURE: account handles, one rule. `user@domain` is compared in one canonical form everywhere.

A handle arrives written by people (relay.toml, DM commands, `relay audit --actor`) or by servers
(the `acct` of Mastodon JSON, which leaves out the domain of the server's own accounts). Whatever
its source, the relay strips the white space around it and every leading `@`, and compares it in
lower case (Mastodon matches user names and domains without regard to case): `norm_acct`. Account
JSON keeps its user name as the server spells it, for display (`bare_acct`; `relay.core.mastodon_json`).
A server's local handle gets the server's domain (`full_acct`). What a handle must look like to be
accepted is the caller's rule: relay.toml (`relay.config.rules`) and DM commands
(`relay.moderation.handles`) each validate their own input and say what is wrong in their own terms.
A host name, in a handle or alone (a domain block), is read by one rule, `parse_host`: lower case,
international names as punycode (as Mastodon stores them), loopback ports only unless asked.

A handle says who someone claims to be; `AccountId` says which account the home instance means.
Moderators are recognised by both (`relay.moderation.guards`): their handle, and the identity the
home instance gave when the relay looked them up, compared with the one on each DM.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[0-9]{1,5}")


def bare_acct(text: str) -> str:
    """A handle without the white space around it and without its leading `@`s, case kept."""
    return text.strip().lstrip("@")


def norm_acct(text: str) -> str:
    """A handle in the one form the relay compares and stores: `bare_acct`, lower case."""
    return bare_acct(text).lower()


def full_acct(text: str, domain: str) -> str:
    """`norm_acct` of a handle, with `@domain` added where it names none (a server's local account)."""
    acct = norm_acct(text)
    return acct if "@" in acct else f"{acct}@{domain.lower()}"


def domain_of(acct: str) -> str | None:
    """The domain of `user@domain` (lower case), or `None` for a handle without one."""
    _, at, domain = norm_acct(acct).rpartition("@")
    return domain if at and domain else None


def parse_host(text: str, *, any_port: bool = False) -> str | None:
    """`text` as a lower-case (punycode) host name with an optional port, or None if it isn't one."""
    host, colon, port = text.lower().partition(":")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            return None
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    ipv4 = len(labels) == 4 and all(label.isdigit() and int(label) <= 255 for label in labels)
    loopback = host == "localhost" or host.endswith(".localhost") or (ipv4 and labels[0] == "127")
    if not (host == "localhost" or len(labels) > 1) or (labels[-1].isdigit() and not ipv4):
        return None
    if colon:
        if not (_PORT.fullmatch(port) and 0 < int(port) < 65536 and (loopback or any_port)):
            return None
        return f"{host}:{int(port)}"
    return host


@dataclass(frozen=True, slots=True)
class AccountId:
    """Which account the home instance means, as it renders the account: its ActivityPub `uri`
    (Mastodon and most servers; GoToSocial leaves it out) and its `id` (the home instance's own
    record of the account, on every server). Both are set by the home instance or by the account's
    own server for that very actor; neither is the display name or `url`, which a remote server
    may set to anything, another server's profile page included.
    """

    uri: str = ""
    id: str = ""

    @classmethod
    def of(cls, account: Mapping[str, Any]) -> AccountId:
        """The identity in Mastodon account JSON (empty fields where the server gives none).

        Pleroma and Akkoma give no `uri` but the same actor id as `pleroma.ap_id`."""
        uri, id_ = account.get("uri"), account.get("id")
        if not uri and isinstance(account.get("pleroma"), Mapping):
            uri = account["pleroma"].get("ap_id")
        return cls(uri if isinstance(uri, str) else "", str(id_) if isinstance(id_, str | int) else "")

    @property
    def known(self) -> bool:
        """The server gave something to recognise the account by."""
        return bool(self.uri or self.id)

    def matches(self, other: AccountId) -> bool:
        """The same account: every part both sides give is equal, and they share at least one."""
        shared = [(a, b) for a, b in ((self.uri, other.uri), (self.id, other.id)) if a and b]
        return bool(shared) and all(a == b for a, b in shared)
