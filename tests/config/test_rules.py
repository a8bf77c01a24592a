"""The [rules] table of relay.toml: defaults, validation errors that name key and fix, domain blocks."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from paths import DATA

from relay.config.rules import default_rules, parse_domain_blocks, parse_rules
from relay.core.rules import BlockRules, ConsentRules, KeywordRules, LimitRules, Rules
from relay.errors import ConfigError


def parse(table: dict[str, Any], *, base: Path = DATA / "rules", **kw: Any) -> Rules:
    """parse_rules with the arguments config.py passes, for the hashtag #TherapistsConnect."""
    args: dict[str, Any] = {"hashtags": ["TherapistsConnect"], "mode": "review", "self_acct": None}
    args.update(kw)
    return parse_rules(table, base_dir=base, source="relay.toml", **args)


class TestDefaults:
    def test_documented_snippet_parses_to_the_defaults(self) -> None:
        """The documented [rules] example with every key parses and equals the built-in defaults."""
        doc = tomllib.loads((DATA / "rules_full.toml").read_text(encoding="utf-8"))
        assert parse(doc["rules"]) == parse({})

    def test_snippet_sets_every_key(self) -> None:
        """The documented example names every key the parser reads, so nothing goes undocumented."""
        doc = tomllib.loads((DATA / "rules_full.toml").read_text(encoding="utf-8"))["rules"]
        nested = {
            "consent": ConsentRules,
            "blocks": BlockRules,
            "keywords": KeywordRules,
            "limits": LimitRules,
        }
        # BlockRules.limited_domains is filled from domain_block_file, which is not a field itself.
        renamed = {"limited_domains": "domain_block_file"}
        for name, cls in nested.items():
            assert set(doc[name]) == {renamed.get(f, f) for f in cls.__dataclass_fields__}
        top = set(Rules.__dataclass_fields__) - {"hashtags", "mode", "self_acct"}
        assert set(doc) == top

    def test_defaults_favour_the_community(self) -> None:
        """Defaults: public only, replies skipped, bots rejected, consent tags on, newcomer limits off."""
        rules = default_rules(["#TherapistsConnect"])
        assert rules.hashtags == {"therapistsconnect"}
        assert rules.mode == "review"
        assert rules.visibility == {"public"}
        assert rules.replies == "skip"
        assert rules.bots == "reject"
        assert rules.consent.refuse_tags == {"nobot", "nobots", "noboost", "noindex"}
        assert not rules.consent.respect_indexable
        assert not rules.consent.respect_noindex
        assert rules.limits.min_account_age_days == 0
        assert rules.limits.min_statuses == 0
        assert rules.quotes == "hold"

    def test_values_are_read(self) -> None:
        """Set values land in the Rules, normalised: accts and domains lower case, words folded."""
        rules = parse(
            {
                "visibility": ["public", "unlisted"],
                "replies": "anchors",
                "reply_anchors": ["https://therapists.social/@ana/1"],
                "languages": ["en", "pt-BR"],
                "consent": {"mode": "opt-in", "refuse_tags": ["#NoBot"], "respect_indexable": True},
                "blocks": {
                    "accounts": ["@Spam@Bad.Example"],
                    "domains": ["Bad.Example"],
                    "trusted": ["ana@t.social"],
                },
                "keywords": {"reject": ["Crypto Café"], "hold_regex": [r"\bfree\b"], "match": "substring"},
                "limits": {"max_links": 0, "min_statuses": 3, "same_text": "hold"},
            },
            self_acct="Relay@Therapists.Social",
        )
        assert rules.visibility == {"public", "unlisted"}
        assert rules.reply_anchors == ("https://therapists.social/@ana/1",)
        assert rules.languages == {"en", "pt"}
        assert rules.consent == ConsentRules(
            mode="opt-in", refuse_tags=frozenset({"nobot"}), respect_indexable=True
        )
        assert rules.blocks.accounts == {"spam@bad.example"}
        assert rules.blocks.domains == {"bad.example"}
        assert rules.blocks.trusted == {"ana@t.social"}
        assert rules.self_acct == "relay@therapists.social"
        assert rules.keywords.reject == ("crypto cafe",)
        assert rules.keywords.match == "substring"
        assert rules.keywords.hold_regex[0].search("FREE stuff")
        assert (rules.limits.max_links, rules.limits.min_statuses, rules.limits.same_text) == (0, 3, "hold")


class TestErrors:
    @pytest.mark.parametrize(
        ("table", "key", "fragment"),
        [
            ({"replies": "sometimes"}, "rules.replies", '"skip" or "allow" or "anchors"'),
            ({"visibility": ["public", "direct"]}, "rules.visibility", "never boosted"),
            ({"visibility": "public"}, "rules.visibility", "a list of strings"),
            ({"bots": True}, "rules.bots", "true"),
            ({"media_without_alt": "reject"}, "rules.media_without_alt", '"accept" or "hold"'),
            ({"quotes": "allow"}, "rules.quotes", '"accept" or "hold" or "reject"'),
            ({"languages": ["English"]}, "rules.languages", "ISO 639"),
            ({"replies": "anchors"}, "rules.reply_anchors", "at least one"),
            ({"consent": {"mode": "maybe"}}, "rules.consent.mode", '"opt-out" or "opt-in"'),
            ({"consent": {"refuse_tags": ["!!"]}}, "rules.consent.refuse_tags", "hashtag names"),
            ({"blocks": {"accounts": ["spammer"]}}, "rules.blocks.accounts", "user@domain"),
            ({"blocks": {"domains": ["not a domain"]}}, "rules.blocks.domains", "domain names"),
            ({"keywords": {"reject": [""]}}, "rules.keywords.reject", "non-empty"),
            ({"keywords": {"hold_regex": ["(unclosed"]}}, "rules.keywords.hold_regex", "regular expressions"),
            ({"limits": {"max_links": -1}}, "rules.limits.max_links", "at least 0"),
            ({"limits": {"max_links": "3"}}, "rules.limits.max_links", "a whole number"),
        ],
    )
    def test_bad_value_names_file_key_value_and_expectation(
        self, table: dict[str, Any], key: str, fragment: str
    ) -> None:
        """A wrong value raises ConfigError naming the file, the full key and what is expected, with a fix."""
        with pytest.raises(ConfigError) as info:
            parse(table)
        assert info.value.message.startswith(f"relay.toml: {key}")
        assert fragment in str(info.value)
        assert info.value.fix

    def test_bad_regex_fix_names_the_index_and_the_error(self) -> None:
        """An invalid regex's fix says which entry and why, at config time."""
        with pytest.raises(ConfigError) as info:
            parse({"keywords": {"reject_regex": ["ok", "a(b"]}})
        assert info.value.fix is not None
        assert "rules.keywords.reject_regex[1]" in info.value.fix
        assert "missing )" in info.value.fix

    @pytest.mark.parametrize(
        ("table", "unknown", "suggestion"),
        [
            ({"reply": "skip"}, "rules.reply", "rules.replies"),
            ({"limits": {"max_link": 3}}, "rules.limits.max_link", "rules.limits.max_links"),
            ({"keywords": {"rejects": []}}, "rules.keywords.rejects", "rules.keywords.reject"),
            ({"zzz": 1}, "rules.zzz", None),
        ],
    )
    def test_unknown_keys(self, table: dict[str, Any], unknown: str, suggestion: str | None) -> None:
        """An unknown key is an error, with a "did you mean" when a known key is close."""
        with pytest.raises(ConfigError) as info:
            parse(table)
        assert f"unknown key {unknown}" in info.value.message
        assert info.value.fix == (f"did you mean {suggestion}?" if suggestion else "remove it")

    def test_bad_mode_and_hashtags(self) -> None:
        """The moderation mode and the hashtags passed in are checked too."""
        with pytest.raises(ConfigError, match=r"moderation\.mode"):
            parse({}, mode="closed")
        with pytest.raises(ConfigError, match="hashtags"):
            parse({}, hashtags=["!!!"])
        with pytest.raises(ConfigError, match="hashtags is empty"):
            parse({}, hashtags=[])

    def test_rules_not_a_table(self) -> None:
        """`rules = 3` instead of a table is refused."""
        with pytest.raises(ConfigError, match="rules must be a table"):
            parse(3)  # type: ignore[arg-type]


class TestDomainBlocks:
    def test_mastodon_csv_export(self) -> None:
        """A Mastodon export: suspend blocks, silence limits, noop and obfuscated rows are skipped."""
        rules = parse({"blocks": {"domain_block_file": "domain_blocks.csv", "domains": ["x.example"]}})
        assert rules.blocks.domains == {"spam.example", "x.example"}
        assert rules.blocks.limited_domains == {"loud.example"}

    def test_plain_list_relative_to_base_dir(self) -> None:
        """A one-domain-per-line file with comments is read relative to the config's folder."""
        rules = parse({"blocks": {"domain_block_file": "rules/domains.txt"}}, base=DATA)
        assert rules.blocks.domains == {"spam.example", "bad.example"}

    def test_missing_file(self, tmp_path: Path) -> None:
        """A domain-block file that does not exist names the key and the resolved path."""
        with pytest.raises(ConfigError) as info:
            parse({"blocks": {"domain_block_file": "nope.csv"}}, base=tmp_path)
        assert "rules.blocks.domain_block_file" in info.value.message
        assert str(tmp_path / "nope.csv") in str(info.value.fix)

    def test_bad_line_is_named(self, tmp_path: Path) -> None:
        """A line that is no domain is reported with its number."""
        (tmp_path / "blocks.txt").write_text("ok.example\nnot a domain\n", encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            parse({"blocks": {"domain_block_file": "blocks.txt"}}, base=tmp_path)
        assert "line 2" in str(info.value.fix)

    def test_unknown_severity(self) -> None:
        """An unknown severity in a CSV export is an error naming the line."""
        with pytest.raises(ValueError, match="line 2: unknown severity 'ban'"):
            parse_domain_blocks("#domain,#severity\nx.example,ban\n")
