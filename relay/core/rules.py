"""PURE: the `[rules]` table of relay.toml as frozen data, the values `relay.core.screen` reads.

Rules are data: the screen reads these values and never a TOML table. Every key has a default
chosen for the community the relay exists for (#TherapistsConnect): consent signals are on, rules
that would stop newcomers (account age, status count) are off. Reading and validating the table
is `relay.config.load.rules`; the documented example with every key is `tests/data/rules_full.toml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ACTIONS = ("accept", "hold", "reject")
REPLIES = ("skip", "allow", "anchors")
CONSENT_MODES = ("opt-out", "opt-in")
MATCH_MODES = ("word", "substring")
BOOSTABLE_VISIBILITIES = ("public", "unlisted")  # private and direct are never boosted, whatever the config
MODES = ("review", "open")


@dataclass(frozen=True, slots=True)
class ConsentRules:
    """Whom the author's own signals and the consent mode let the relay boost."""

    # "opt-out": everyone may be boosted unless they say no; "opt-in": only opted-in or trusted authors.
    mode: str = "opt-out"
    # Hashtags in the author's bio or profile fields that mean "do not boost me" (normalised).
    refuse_tags: frozenset[str] = frozenset({"nobot", "nobots", "noboost", "noindex"})
    # `indexable: false` is Mastodon's default for most accounts and is about search, not boosts: off.
    respect_indexable: bool = False
    # `noindex: true` asks search engines to skip the profile; again not about boosts: off.
    respect_noindex: bool = False


@dataclass(frozen=True, slots=True)
class BlockRules:
    """Static blocks and trust from the configuration (moderators add more through History)."""

    accounts: frozenset[str] = frozenset()  # user@domain, lower case
    domains: frozenset[str] = frozenset()  # a domain blocks its subdomains too
    # From a Mastodon domain-block export: severity "silence" (limited) holds instead of rejecting.
    limited_domains: frozenset[str] = frozenset()
    trusted: frozenset[str] = frozenset()  # user@domain whose posts skip every HOLD rule


@dataclass(frozen=True, slots=True)
class KeywordRules:
    """Words and regular expressions matched on the plain text (content warning included)."""

    reject: tuple[str, ...] = ()  # folded (lower case, no accents)
    hold: tuple[str, ...] = ()
    reject_regex: tuple[re.Pattern[str], ...] = ()
    hold_regex: tuple[re.Pattern[str], ...] = ()
    match: str = "word"  # "word": whole words only; "substring": anywhere


@dataclass(frozen=True, slots=True)
class LimitRules:
    """Spam shape. 0 turns a limit off."""

    # Introductions carry a handful of tags (#introduction #therapist #psychology ...); hashtag
    # stuffing starts well above that. Held, not rejected: a moderator decides.
    max_hashtags: int = 10
    # Mention spam waves tag several strangers per post; a community post rarely mentions more than 5.
    max_mentions: int = 5
    # A practice website, a booking page and a paper: 3 links is generous; link farms carry more.
    max_links: int = 3
    # Off: a brand-new account introducing itself is the point of #TherapistsConnect.
    min_account_age_days: int = 0
    min_statuses: int = 0
    # The same text again from the same author is a duplicate, not news: rejected.
    same_text: str = "reject"
    # More than this many boosts of one author per 24 h would crowd the feed; the rest is rejected.
    max_boosts_per_author_24h: int = 5


@dataclass(frozen=True, slots=True)
class Rules:
    """Every setting `relay.core.screen.screen` reads, with the defaults documented above each field."""

    hashtags: frozenset[str]  # watched hashtags, normalised as Mastodon does
    mode: str = "review"  # "review": hold every post that passes unless trusted; "open": accept it
    self_acct: str | None = None  # the booster's own user@domain: its posts are never boosted
    visibility: frozenset[str] = frozenset({"public"})  # add "unlisted" to boost unlisted posts too
    replies: str = "skip"  # "skip" | "allow" | "anchors" (only replies to `reply_anchors`)
    reply_anchors: tuple[str, ...] = ()  # post URIs, URLs or ids
    bots: str = "reject"  # accounts flagged as bots: automated posts are not community voices
    groups: str = "accept"  # group accounts (Lemmy, Friendica, guppe) relay members' posts
    content_warning: str = "accept"  # a CW is care, not a problem, in a therapists' community
    sensitive: str = "accept"
    media_without_alt: str = "accept"  # "accept" | "hold"
    languages: frozenset[str] = frozenset()  # allow list; empty: all; posts without language pass
    # A quote that passed every rule (state accepted, the quoted author consents and is not blocked,
    # the quoted text is clean) is held: boosting it aims the whole community at someone else's
    # words, and the seed's worry is exactly that (therapists "under attack" by others' quotes).
    quotes: str = "hold"
    consent: ConsentRules = field(default_factory=ConsentRules)
    blocks: BlockRules = field(default_factory=BlockRules)
    keywords: KeywordRules = field(default_factory=KeywordRules)
    limits: LimitRules = field(default_factory=LimitRules)
