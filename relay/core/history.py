"""PURE what screening needs to know about an author from the store: `History`; and which domain
blocks cover a domain (`covering_domains`), which screening and the store's lookup share.

The store fills a `History` (`relay.store.people`); `relay.core.screen` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class History:
    """What the store knows about the author at screening time (filled by the store, read by screening)."""

    boosts_last_24h: int = 0  # other posts of the author accepted for boosting in 24 h (see Store.history)
    same_text_seen: bool = False
    opted_out: bool = False
    opted_in: bool = False
    account_blocked: str | None = None  # the block reason, when blocked by a moderator
    domain_blocked: str | None = None
    trusted: bool = False
    anchor: str | None = None  # the anchor post (`[[anchors]]` URL) this post is known to reply to


def covering_domains(domain: str) -> list[str]:
    """What a domain block must name to cover `domain`: the domain itself, then each parent, the
    longest first ("a.b.example", "b.example", "example"): every text `domain` ends in after a dot."""
    found = [domain]
    dot = domain.find(".")
    while dot >= 0:
        found.append(domain[dot + 1 :])
        dot = domain.find(".", dot + 1)
    return found
