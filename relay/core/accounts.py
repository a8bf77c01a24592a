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
"""

from __future__ import annotations

import re

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
