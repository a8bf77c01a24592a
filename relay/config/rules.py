"""The `[rules]` table of relay.toml, validated once by `parse_rules` into `relay.core.rules.Rules`.

No I/O except reading the optional domain-block file named by `rules.blocks.domain_block_file`,
which happens here, at start-up, so that screening never touches a file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from relay.config.tomltable import Table
from relay.core.accounts import norm_acct, parse_host
from relay.core.rules import (
    ACTIONS,
    BOOSTABLE_VISIBILITIES,
    CONSENT_MODES,
    MATCH_MODES,
    MODES,
    REPLIES,
    BlockRules,
    ConsentRules,
    KeywordRules,
    LimitRules,
    Rules,
)
from relay.core.tags import fold_text, normalize_tag
from relay.errors import ConfigError

_ACCT_RE = re.compile(r"^[a-z0-9_]+(?:[.-][a-z0-9_]+)*@[^@\s/]+$")


def default_rules(hashtags: Sequence[str], *, mode: str = "review") -> Rules:
    """The rules relay uses when relay.toml has no `[rules]` table."""
    return parse_rules(
        {}, hashtags=hashtags, mode=mode, self_acct=None, base_dir=Path("."), source="(defaults)"
    )


def parse_rules(
    table: Mapping[str, Any],
    *,
    hashtags: Sequence[str],
    mode: str,
    self_acct: str | None,
    base_dir: Path,
    source: str,
) -> Rules:
    """Validate the `[rules]` table; raise ConfigError naming `source`, the key, the value and the fix."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: rules must be a table", fix="write the rules under a [rules] header")
    top = Table(table, source=source, prefix="rules")
    watched = _hashtags(hashtags, source)
    if mode not in MODES:
        raise ConfigError(
            f'{source}: moderation.mode = {mode!r}: expected "review" or "open"',
            fix='set moderation.mode = "review" (hold every post for a moderator) or "open"',
        )
    visibility = top.get_str_list("visibility", ("public",))
    for value in visibility:
        if value not in BOOSTABLE_VISIBILITIES:
            raise top.error(
                "visibility",
                'a list of "public" and "unlisted"',
                found=value,
                fix='private and direct posts are never boosted: use ["public"] or ["public", "unlisted"]',
            )
    replies = top.get_str("replies", "skip", choices=REPLIES)
    anchors = top.get_str_list("reply_anchors")
    if replies == "anchors" and not anchors:
        raise top.error(
            "reply_anchors", 'at least one post URI, URL or id with replies = "anchors"', found=list(anchors)
        )
    languages = top.get_str_list("languages")
    for lang in languages:
        if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)?", lang):
            raise top.error("languages", 'ISO 639 codes such as "en", "de", "pt"', found=lang)
    rules = Rules(
        hashtags=watched,
        mode=mode,
        self_acct=_acct(self_acct, "self_acct", top) if self_acct else None,
        visibility=frozenset(visibility),
        replies=replies,
        reply_anchors=anchors,
        bots=top.get_str("bots", "reject", choices=ACTIONS),
        groups=top.get_str("groups", "accept", choices=ACTIONS),
        content_warning=top.get_str("content_warning", "accept", choices=ACTIONS),
        sensitive=top.get_str("sensitive", "accept", choices=ACTIONS),
        media_without_alt=top.get_str("media_without_alt", "accept", choices=("accept", "hold")),
        languages=frozenset(lang.split("-")[0] for lang in languages),
        quotes=top.get_str("quotes", "hold", choices=ACTIONS),
        consent=_consent(top.table("consent")),
        blocks=_blocks(top.table("blocks"), base_dir),
        keywords=_keywords(top.table("keywords")),
        limits=_limits(top.table("limits")),
    )
    top.finish()
    return rules


def _hashtags(hashtags: Sequence[str], source: str) -> frozenset[str]:
    watched = set()
    for tag in hashtags:
        name = normalize_tag(tag)
        if not name:
            raise ConfigError(
                f"{source}: hashtags contains {tag!r}, which is no hashtag", fix="use letters, digits and _"
            )
        watched.add(name)
    if not watched:
        raise ConfigError(f"{source}: hashtags is empty", fix='write hashtags = ["TherapistsConnect"]')
    return frozenset(watched)


def full_handle(value: str) -> str | None:
    """`value` as a canonical `user@domain` handle (`norm_acct`), or None when it is not a full one:
    how relay.toml takes every account it names (`[rules.blocks]`, `[moderation] moderators`)."""
    acct = norm_acct(value)
    return acct if _ACCT_RE.fullmatch(acct) else None


def _acct(value: str, name: str, table: Table) -> str:
    acct = full_handle(value)
    if acct is None:
        raise table.error(
            name,
            "full handles user@domain",
            found=value,
            fix=f'write "user@example.social" in {table.key(name)}',
        )
    return acct


def _domain(value: str, name: str, table: Table) -> str:
    domain = parse_host(value.strip().rstrip("."), any_port=True)
    if domain is None:
        raise table.error(name, "domain names such as spam.example", found=value)
    return domain


def _consent(table: Table) -> ConsentRules:
    refuse = table.get_str_list("refuse_tags", ("nobot", "nobots", "noboost", "noindex"))
    tags = {normalize_tag(tag) for tag in refuse}
    if "" in tags:
        raise table.error("refuse_tags", 'hashtag names such as "nobot"', found=list(refuse))
    consent = ConsentRules(
        mode=table.get_str("mode", "opt-out", choices=CONSENT_MODES),
        refuse_tags=frozenset(tags),
        respect_indexable=table.get_bool("respect_indexable", False),
        respect_noindex=table.get_bool("respect_noindex", False),
    )
    table.finish()
    return consent


def _blocks(table: Table, base_dir: Path) -> BlockRules:
    accounts = frozenset(_acct(a, "accounts", table) for a in table.get_str_list("accounts"))
    trusted = frozenset(_acct(a, "trusted", table) for a in table.get_str_list("trusted"))
    domains = {_domain(d, "domains", table) for d in table.get_str_list("domains")}
    limited: set[str] = set()
    file_name = table.get_str("domain_block_file", "")
    if file_name:
        path = base_dir / file_name
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise table.error(
                "domain_block_file",
                "a readable domain-block file",
                found=file_name,
                fix=f"{path}: {exc.strerror}; export it from Mastodon (Moderation > Federation > Export)",
            ) from None
        try:
            suspended, silenced = parse_domain_blocks(text)
        except ValueError as exc:
            raise table.error(
                "domain_block_file",
                "a Mastodon domain-block CSV or one domain per line",
                found=file_name,
                fix=f"{path}: {exc}",
            ) from None
        domains |= suspended
        limited |= silenced
    table.finish()
    return BlockRules(
        accounts=accounts,
        domains=frozenset(domains),
        limited_domains=frozenset(limited - domains),
        trusted=trusted,
    )


def parse_domain_blocks(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """Read a Mastodon domain-block export (`#domain,#severity,...`) or a plain domain-per-line file.

    Returns (blocked, limited): "suspend" rows are blocked, "silence" rows limited, "noop" rows ignored;
    obfuscated domains (with `*`) cannot be matched and are skipped. Raises ValueError naming the line.
    """
    blocked: set[str] = set()
    limited: set[str] = set()
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if first.lstrip().startswith("#domain"):
        reader = csv.reader(io.StringIO(text))
        header = [h.strip().lstrip("#") for h in next(reader)]
        if "domain" not in header:
            raise ValueError("line 1: the CSV header has no #domain column")
        d_col = header.index("domain")
        s_col = header.index("severity") if "severity" in header else None
        for number, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            text = row[d_col].strip().rstrip(".") if d_col < len(row) else ""
            severity = row[s_col].strip() if s_col is not None and s_col < len(row) else "suspend"
            if "*" in text:
                continue
            domain = parse_host(text, any_port=True)
            if domain is None:
                raise ValueError(f"line {number}: {text!r} is not a domain")
            if severity == "suspend":
                blocked.add(domain)
            elif severity == "silence":
                limited.add(domain)
            elif severity != "noop":
                raise ValueError(f"line {number}: unknown severity {severity!r}")
        return frozenset(blocked), frozenset(limited)
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip().rstrip(".")
        if not text:
            continue
        domain = parse_host(text, any_port=True)
        if domain is None:
            raise ValueError(f"line {number}: {text!r} is not a domain")
        blocked.add(domain)
    return frozenset(blocked), frozenset()


def _keywords(table: Table) -> KeywordRules:
    def regexes(name: str) -> tuple[re.Pattern[str], ...]:
        compiled = []
        for index, pattern in enumerate(table.get_str_list(name)):
            try:
                compiled.append(re.compile(pattern, re.IGNORECASE))
            except re.error as exc:
                raise table.error(
                    name,
                    "valid Python regular expressions",
                    found=pattern,
                    fix=f"{table.key(name)}[{index}]: {exc}; escape special characters with \\",
                ) from None
        return tuple(compiled)

    def words(name: str) -> tuple[str, ...]:
        values = table.get_str_list(name)
        folded = tuple(" ".join(fold_text(v).split()) for v in values)
        if any(not w for w in folded):
            raise table.error(name, "non-empty words or phrases", found=list(values))
        return folded

    rules = KeywordRules(
        reject=words("reject"),
        hold=words("hold"),
        reject_regex=regexes("reject_regex"),
        hold_regex=regexes("hold_regex"),
        match=table.get_str("match", "word", choices=MATCH_MODES),
    )
    table.finish()
    return rules


def _limits(table: Table) -> LimitRules:
    limits = LimitRules(
        max_hashtags=table.get_int("max_hashtags", 10, minimum=0),
        max_mentions=table.get_int("max_mentions", 5, minimum=0),
        max_links=table.get_int("max_links", 3, minimum=0),
        min_account_age_days=table.get_int("min_account_age_days", 0, minimum=0),
        min_statuses=table.get_int("min_statuses", 0, minimum=0),
        same_text=table.get_str("same_text", "reject", choices=ACTIONS),
        max_boosts_per_author_24h=table.get_int("max_boosts_per_author_24h", 5, minimum=0),
    )
    table.finish()
    return limits
